"""Where the gate tools live: their own environment, apart from the project's.

In the image they are installed at build time in /opt/tools. Elsewhere (tests,
the CLI) SSM_ACTION_TOOLS names their bin folder, or they sit beside the Python
running the action.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

TOOLS_VARIABLE = "SSM_ACTION_TOOLS"
IMAGE_TOOLS = Path("/opt/tools/bin")


def bin_dir() -> Path:
    given = os.environ.get(TOOLS_VARIABLE)
    if given:
        return Path(given)
    if IMAGE_TOOLS.is_dir():
        return IMAGE_TOOLS
    return Path(sys.executable).parent


def path(name: str) -> str:
    """The tool's executable; a missing one is reported by the gate that runs it."""
    return str(bin_dir() / name)


def uv() -> str | None:
    """uv from the tools, else from PATH; None means venv + pip."""
    found = bin_dir() / "uv"
    return str(found) if found.is_file() else shutil.which("uv")
