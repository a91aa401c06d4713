"""The linter versions and flake8 plugins a project pins wherever it pins them: its pre-commit
config, requirement files (and pip-tools .in files), dependency groups, extras, Poetry groups
and tox environments. Rules change between versions: the project's own version judges it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssm_action.gates.projectfiles import ini, pre_commit_hook, pre_commit_rev, pyproject

REQUIREMENT_GLOBS = ("requirements*.txt", "requirements*.in", "*requirements.txt", "requirements/*.txt",
                     "requirements/*.in")
HOOK_REPOS = {"ruff": "ruff-pre-commit", "flake8": "flake8"}
EXACT = re.compile(r"^\s*==\s*(\d+(?:\.\d+)*)\s*$")
NOT_PLUGINS = ("flake8-sarif",)  # the action adds its own report format


@dataclass(frozen=True)
class Pinned:
    version: str  # '' when the project pins none
    source: str  # where, e.g. requirements-dev.txt
    plugins: tuple[str, ...] = ()  # flake8 plugins as requirements, e.g. flake8-bugbear==24.2.6


def pinned(root: Path, tool: str) -> Pinned:
    """The version of ruff or flake8 the project pins (first found), and flake8's plugins."""
    found = [*_pre_commit(root, tool), *_requirement_files(root), *_pyproject(root), *_tox(root)]
    version, source = next(((v, s) for name, v, s in found if name == tool and v), ("", ""))
    plugins: dict[str, str] = {}
    if tool == "flake8":
        for name, spec, _ in found:
            if (name.startswith("flake8-") or name == "pep8-naming") and name not in NOT_PLUGINS:
                plugins.setdefault(name, f"{name}=={spec}" if spec else name)
    return Pinned(version, source, tuple(plugins.values()))


def _split(requirement: str) -> tuple[str, str]:
    """(lower-case name, exact version or '') of a requirement line."""
    match = re.match(r"^\s*([A-Za-z0-9][\w.-]*)\s*(?:\[[^\]]*\])?\s*([^;#]*)", requirement)
    if not match:
        return "", ""
    exact = EXACT.match(match.group(2).split(",")[0].strip()) if match.group(2).strip() else None
    return match.group(1).lower().replace("_", "-"), exact.group(1) if exact else ""


def _pre_commit(root: Path, tool: str) -> list[tuple[str, str, str]]:
    rev = pre_commit_rev(root, HOOK_REPOS[tool]).lstrip("v")
    found = [(tool, rev, "pre-commit config")] if re.fullmatch(r"\d+(\.\d+)*", rev) else []
    extra = (pre_commit_hook(root, tool) or {}).get("additional_dependencies") or []
    return found + [(*_split(str(item)), "pre-commit config") for item in extra]


def _requirement_files(root: Path) -> list[tuple[str, str, str]]:
    found = []
    for pattern in REQUIREMENT_GLOBS:
        for path in sorted(root.glob(pattern)):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.strip() and not line.lstrip().startswith(("-", "#")):
                    found.append((*_split(line), path.relative_to(root).as_posix()))
    return found


def _pyproject(root: Path) -> list[tuple[str, str, str]]:
    data = pyproject(root)
    found = []
    extras = data.get("project", {}).get("optional-dependencies", {})
    for table, groups in (("[dependency-groups]", data.get("dependency-groups", {})),
                          ("[project.optional-dependencies]", extras)):
        for items in groups.values() if isinstance(groups, dict) else []:
            found += [(*_split(item), f"pyproject.toml {table}") for item in items if isinstance(item, str)]
    poetry = data.get("tool", {}).get("poetry", {})
    tables = [group.get("dependencies", {}) for group in poetry.get("group", {}).values() if isinstance(group, dict)]
    for table in [*tables, poetry.get("dev-dependencies", {})]:
        for name, constraint in table.items() if isinstance(table, dict) else []:
            found.append((name.lower(), _poetry_exact(constraint), "pyproject.toml [tool.poetry] groups"))
    return found


def _poetry_exact(constraint: Any) -> str:
    """Poetry's bare '1.2.3' and '==1.2.3' are exact; ranges are not pins."""
    text = str(constraint.get("version", "") if isinstance(constraint, dict) else constraint).strip()
    match = re.fullmatch(r"(?:==)?\s*(\d+(?:\.\d+)*)", text)
    return match.group(1) if match else ""


def _tox(root: Path) -> list[tuple[str, str, str]]:
    tox = ini(root / "tox.ini")
    found = []
    for section in tox.sections():
        for line in tox[section].get("deps", "").splitlines():
            line = re.sub(r"^[\w,-]+:\s*", "", line.strip())  # a factor-conditional line
            if line and not line.startswith(("-", "#", "{")):
                found.append((*_split(line), f"tox.ini [{section}]"))
    return found
