"""The artifact's format, shared by the runner that packs it (deploy/artifact.py) and the agent that
unpacks and installs it (agent/artifact.py, agent/releases.py): the names inside a release, and which
member names are safe on either kind of server."""

from __future__ import annotations

import re
from typing import Optional

MANIFEST = "DEPLOY_ARTIFACT.json"  # written by the runner: commit, files, wheelhouse
READY = "DEPLOY_RELEASE.json"  # written by the agent once a release is installed
WHEELHOUSE = ".wheelhouse"  # the wheels the runner built, installed with no package index
# Device names, with any extension (aux.py is AUX); other characters Windows refuses in a name.
_RESERVED = re.compile(r"((CON|PRN|AUX|NUL|COM[0-9\u00b9\u00b2\u00b3]|LPT[0-9\u00b9\u00b2\u00b3]|CONIN\$|CONOUT\$)"
                       r"(\..*)?|.*[<>\"|?*\x01-\x1f].*)", re.I | re.S)


def unsafe_name(name: str, windows: bool) -> Optional[str]:
    """Why a member name is unsafe to unpack (on either kind of server), or None."""
    parts = name.rstrip("/").split("/")
    if not name or name.startswith("/") or "\\" in name or "\0" in name:
        return "an absolute or non-portable path"
    if ":" in name:
        return "a drive or stream name"
    if any(part in ("", ".", "..") for part in parts):
        return "an empty, '.' or '..' path part"
    if windows and any(_RESERVED.fullmatch(part) or part[-1] in ". " for part in parts):
        return "a name Windows reserves for a device or cannot keep (CON, aux.py, COM1, a trailing dot or space)"
    return None
