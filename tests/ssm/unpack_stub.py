"""The files a bootstrap (PowerShell or sh) writes before it runs Python, taken from the script's
own literals, so a test runs exactly the stub and the xz blob a server would get."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import NamedTuple

B64 = r"([A-Za-z0-9+/=]*)"
# bootstrap.POWERSHELL: $name = Join-Path $work '<file>', then
# [IO.File]::WriteAllBytes($name, [Convert]::FromBase64String('<base64>'))
PS_NAMED = re.compile(r"\$(\w+) = Join-Path \$work '([\w.]+)'")
PS_WRITTEN = re.compile(r"\[IO\.File\]::WriteAllBytes\(\$(\w+), \[Convert\]::FromBase64String\('" + B64 + r"'\)\)")
# bootstrap.SHELL: printf '%s' '<base64>' | base64 -d > "$work/<file>"
SH_WRITTEN = re.compile(r"printf '%s' '" + B64 + r"' \| base64 -d > \"\$work/([\w.]+)\"")


class StubFiles(NamedTuple):
    unpack: Path  # unpack.py, the fixed stub
    packed: Path  # agent.in: the agent xz-compressed, or its S3 ticket
    agent: Path  # where the stub is to write agent.pyz


def written_files(script: str) -> dict[str, bytes]:
    """What the script writes into its work folder, by file name (agent.in, unpack.py, params.json)."""
    names = dict(PS_NAMED.findall(script))
    found = {names[var]: value for var, value in PS_WRITTEN.findall(script)}
    found.update({name: value for value, name in SH_WRITTEN.findall(script)})
    return {name: base64.b64decode(value) for name, value in found.items()}


def lay_out(script: str, folder: Path) -> StubFiles:
    """Write the stub and the packed agent of ``script`` into ``folder``, as the bootstrap does."""
    files = written_files(script)
    folder.mkdir(parents=True, exist_ok=True)
    laid = StubFiles(folder / "unpack.py", folder / "agent.in", folder / "agent.pyz")
    laid.unpack.write_bytes(files[laid.unpack.name])
    laid.packed.write_bytes(files[laid.packed.name])
    return laid
