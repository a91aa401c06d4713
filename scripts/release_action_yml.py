#!/usr/bin/env python3
"""Make action.yml use a pre-built image: scripts/release_action_yml.py ghcr.io/owner/name:1.2.3 [FILE]

The release workflow runs this before it moves the major tag, so users pull the
image instead of building the Dockerfile at every run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

IMAGE_LINE = "  image: Dockerfile\n"
IMAGE_REF = re.compile(r"^[a-z0-9.-]+(/[a-z0-9._-]+)+:[A-Za-z0-9._-]+$")


def main(argv: list[str]) -> int:
    if not argv or not IMAGE_REF.match(argv[0]):
        print("usage: release_action_yml.py REGISTRY/OWNER/NAME:TAG [action.yml] (lowercase image name)")
        return 2
    path = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parent.parent / "action.yml")
    text = path.read_text(encoding="utf-8")
    if text.count(IMAGE_LINE) != 1:
        print(f"{path}: expected exactly one line {IMAGE_LINE.strip()!r} under runs:")
        return 1
    path.write_text(text.replace(IMAGE_LINE, f"  image: docker://{argv[0]}\n"), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
