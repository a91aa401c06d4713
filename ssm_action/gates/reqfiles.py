"""Requirement files and the files they include with -r / -c (nested, each once)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path

INCLUDE_OPTIONS = ("-r", "--requirement", "-c", "--constraint")


def included(root: Path, files: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """(name, content) of the requirement files and every file they include, each once."""
    seen: set[str] = set()
    todo = list(files)
    while todo:
        name = todo.pop(0)
        path = root / name
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        content = path.read_bytes()
        yield name, content
        for line in content.decode("utf-8", errors="replace").splitlines():
            include = _include(line)
            if include:
                todo.append(os.path.normpath(os.path.join(os.path.dirname(name), include)))


def _include(line: str) -> str:
    """The file named by a '-r file', '--requirement=file' or '-c file' line, or ''."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:  # not ours to judge: the installer reports a malformed line
        return ""
    if words and "=" in words[0]:
        words = words[0].split("=", 1) + words[1:]
    return words[1] if len(words) >= 2 and words[0] in INCLUDE_OPTIONS else ""
