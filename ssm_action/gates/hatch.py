"""Hatch environments, read the way Hatch reads them: [tool.hatch.envs.<name>] in
pyproject.toml or [envs.<name>] in hatch.toml, each inheriting from its template (the
`default` environment unless it says otherwise); their dependencies, features and
extra-dependencies (what the gates install) and their scripts (how the tests run)."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssm_action.gates.projectfiles import pyproject

# `hatch test`'s own environment installs these besides what the project adds
HATCH_TEST = "hatch-test"
HATCH_TEST_DEPENDENCIES = ("pytest", "pytest-mock", "coverage[toml]")
ARGS = re.compile(r"\{args(?::([^}]*))?\}")
PLACEHOLDER = re.compile(r"\{[^}]*\}")
MAX_DEPTH = 10  # scripts naming scripts


@dataclass(frozen=True)
class Env:
    name: str
    dependencies: tuple[str, ...]  # dependencies and extra-dependencies
    features: tuple[str, ...]  # the project's extras
    install_project: bool  # not skip-install
    editable: bool  # dev-mode
    scripts: dict[str, list[str]]


def _declared(root: Path) -> dict[str, dict[str, Any]]:
    """Every environment's own table (hatch.toml's win, as in Hatch)."""
    found = dict(pyproject(root).get("tool", {}).get("hatch", {}).get("envs", {}))
    try:
        found.update(tomllib.loads((root / "hatch.toml").read_text(encoding="utf-8")).get("envs", {}))
    except (OSError, tomllib.TOMLDecodeError):
        pass
    return {name: table for name, table in found.items() if isinstance(table, dict)}


def names(root: Path) -> list[str]:
    return list(_declared(root))


def _chain(declared: dict[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The environment's table and its templates', nearest first."""
    chain, seen = [], set()
    while name not in seen:
        seen.add(name)
        table = declared.get(name, {})
        chain.append(table)
        if table.get("detached") or name == "default" and "template" not in table:
            break
        name = str(table.get("template", "default"))
    return chain


def env(root: Path, name: str) -> Env | None:
    """The environment as Hatch builds it, or None when the project declares no Hatch environments."""
    declared = _declared(root)
    if name not in declared and name not in ("default", HATCH_TEST):
        return None
    chain = _chain(declared, name)

    def first(key: str, default: Any) -> Any:
        return next((table[key] for table in chain if key in table), default)

    dependencies = list(first("dependencies", HATCH_TEST_DEPENDENCIES if name == HATCH_TEST else ()))
    dependencies += [spec for table in chain for spec in table.get("extra-dependencies", [])]
    scripts: dict[str, list[str]] = {}
    for table in reversed(chain):  # the nearest table's scripts win
        for script, value in table.get("scripts", {}).items():
            scripts[script] = [value] if isinstance(value, str) else [str(item) for item in value]
    detached = bool(chain[0].get("detached"))
    return Env(name, tuple(dict.fromkeys(str(d) for d in dependencies)), tuple(str(f) for f in first("features", ())),
               not detached and not first("skip-install", False), bool(first("dev-mode", True)), scripts)


def expand(environment: Env, words: list[str], depth: int = 0) -> list[str]:
    """The command lines a `hatch run <script> args` runs (a script may name other scripts)."""
    if not words:
        return []
    script = environment.scripts.get(words[0])
    if script is None or depth > MAX_DEPTH:
        return [shlex.join(words)]
    given = shlex.join(words[1:])
    lines = []
    for line in script:
        line = line.strip().removeprefix("- ")  # "- cmd": Hatch ignores its exit code
        line = ARGS.sub(lambda m: given or (m.group(1) or ""), line)
        line = PLACEHOLDER.sub(lambda m: "." if m.group(0) in ("{root}", "{root:uri}") else "", line)
        try:
            inner = shlex.split(line)
        except ValueError:
            continue
        lines += expand(environment, inner, depth + 1) if inner and inner[0] in environment.scripts else [line]
    return lines


def split_target(target: str) -> tuple[str, str]:
    """`test:cov` -> (test, cov); `cov` -> (default, cov)."""
    env_name, _, script = target.rpartition(":")
    return env_name or "default", script
