"""The files the Windows (PowerShell) bootstrap writes before it runs Python, taken from the
script's own literals, so a test runs exactly the stub and the xz blob a server would get."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import NamedTuple

# [IO.File]::WriteAllBytes($name, [Convert]::FromBase64String('<base64>')), as in bootstrap.POWERSHELL
WRITTEN = re.compile(r"\[IO\.File\]::WriteAllBytes\(\$(\w+), \[Convert\]::FromBase64String\('([A-Za-z0-9+/=]*)'\)\)")


class StubFiles(NamedTuple):
    unpack: Path  # unpack.py, the fixed stub
    packed: Path  # agent.pyz.xz
    agent: Path  # where the stub is to write agent.pyz


def written_files(script: str) -> dict[str, bytes]:
    """What the script writes, by its PowerShell variable (packed, unpack, params)."""
    return {name: base64.b64decode(value) for name, value in WRITTEN.findall(script)}


def lay_out(script: str, folder: Path) -> StubFiles:
    """Write the stub and the packed agent of ``script`` into ``folder``, as the bootstrap does."""
    files = written_files(script)
    folder.mkdir(parents=True, exist_ok=True)
    laid = StubFiles(folder / "unpack.py", folder / "agent.pyz.xz", folder / "agent.pyz")
    laid.unpack.write_bytes(files["unpack"])
    laid.packed.write_bytes(files["packed"])
    return laid
