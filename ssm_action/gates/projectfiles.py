"""The project's configuration files, read leniently: a file that is missing or that
does not parse reads as empty (the tool that owns it reports the problem)."""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path
from typing import Any


def ini(path: Path) -> configparser.ConfigParser:
    """setup.cfg, tox.ini, .coveragerc, pytest.ini."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        pass
    return parser


def pyproject(root: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
