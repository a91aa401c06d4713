"""PLACEHOLDER (deploy branch): the agent-side helper's payload.py replaces this file at merge.

Same interface: build() -> Payload (.data, .sha256, .members) and write(directory) -> Path; the deploy
side uses build() and those three fields only.
Here the zipapp holds agent.py as its __main__.py, with sorted members and fixed
timestamps so the same code gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

AGENT = Path(__file__).resolve().parent / "agent.py"
NAME = "ssm-deploy-agent.pyz"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Payload:
    data: bytes
    sha256: str
    members: tuple[str, ...]


def build() -> Payload:
    members = {"__main__.py": AGENT.read_bytes()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as pyz:
        for name in sorted(members):
            pyz.writestr(zipfile.ZipInfo(name, FIXED_TIME), members[name])
    data = buffer.getvalue()
    return Payload(data, hashlib.sha256(data).hexdigest(), tuple(sorted(members)))


def write(directory: Path) -> Path:
    path = Path(directory) / NAME
    path.write_bytes(build().data)
    return path
