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


def tox(root: Path) -> tuple[configparser.ConfigParser, str]:
    """tox's configuration and where it is, in tox's order: tox.ini, else pyproject.toml's
    [tool.tox] legacy_tox_ini (an ini in a string). Empty when neither."""
    if (root / "tox.ini").is_file():
        return ini(root / "tox.ini"), "tox.ini"
    legacy = pyproject(root).get("tool", {}).get("tox", {}).get("legacy_tox_ini")
    parser = configparser.ConfigParser(interpolation=None)
    if not isinstance(legacy, str):
        return parser, "tox.ini"
    try:
        parser.read_string(legacy)
    except configparser.Error:
        return configparser.ConfigParser(interpolation=None), "tox.ini"
    return parser, "pyproject.toml [tool.tox] legacy_tox_ini"


def pyproject(root: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _pre_commit_repos(root: Path) -> list[dict[str, Any]]:
    import yaml

    try:
        config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    repos = config.get("repos", []) if isinstance(config, dict) else []
    return [repo for repo in repos if isinstance(repo, dict)] if isinstance(repos, list) else []


def pre_commit_hook(root: Path, hook: str) -> dict[str, Any] | None:
    """The project's .pre-commit-config.yaml entry for ``hook`` (its CI's way of running it)."""
    for repo in _pre_commit_repos(root):
        for item in repo.get("hooks") or []:
            if isinstance(item, dict) and item.get("id") == hook:
                return item
    return None


def pre_commit_rev(root: Path, repo_name: str) -> str:
    """The rev the project pins for a hook repository ending in ``repo_name`` ("" if none)."""
    for repo in _pre_commit_repos(root):
        if str(repo.get("repo", "")).rstrip("/").endswith("/" + repo_name):
            return str(repo.get("rev", ""))
    return ""


def pre_commit_args(root: Path, hook: str) -> list[str]:
    args = (pre_commit_hook(root, hook) or {}).get("args")
    return [str(arg) for arg in args] if isinstance(args, list) else []
