"""Poetry's dependency tables as PEP 508 requirements (Poetry's ^ and ~ ranges,
path and git sources), so uv or pip can install them without Poetry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BARE_VERSION = re.compile(r"^\d[\w.*+!-]*$")


def requirements(root: Path, table: dict[str, Any]) -> list[str]:
    specs = []
    for name, constraint in table.items():
        if name.lower() == "python":
            continue
        for item in constraint if isinstance(constraint, list) else [constraint]:
            spec = _requirement(root, name, item)
            if spec:
                specs.append(spec)
    return specs


def _requirement(root: Path, name: str, item: str | dict[str, Any]) -> str:
    if isinstance(item, str):
        item = {"version": item}
    if item.get("optional"):
        return ""  # only with its extra
    extras = f"[{','.join(item['extras'])}]" if item.get("extras") else ""
    if "path" in item:
        target = f" @ {(root / item['path']).resolve().as_uri()}"
    elif "git" in item:
        ref = item.get("rev") or item.get("tag") or item.get("branch")
        target = f" @ git+{item['git']}" + (f"@{ref}" if ref else "")
    elif "url" in item:
        target = f" @ {item['url']}"
    else:
        target = version_specifier(str(item.get("version", "*")))
    markers = [m for m in (item.get("markers", ""), _python_marker(item.get("python", ""))) if m]
    marker = f" ; {' and '.join(f'({m})' for m in markers)}" if markers else ""
    return f"{name}{extras}{target}{marker}"


def version_specifier(constraint: str) -> str:
    """Poetry's constraint as a PEP 440 specifier: ^1.2 is >=1.2,<2.0.0; ~1.2 is >=1.2,<1.3."""
    parts = [p for p in re.split(r"[,\s]+", constraint.split("||")[0].strip()) if p and p != "*"]
    return ",".join(_one(part) for part in parts)


def _one(part: str) -> str:
    if part.startswith("^"):
        return _range(part[1:], caret=True)
    if part.startswith("~") and not part.startswith("~="):
        return _range(part[1:], caret=False)
    return f"=={part}" if BARE_VERSION.match(part) else part


def _range(version: str, caret: bool) -> str:
    numbers = [int(n) for n in re.findall(r"\d+", version)[:3]]
    if caret:  # the first non-zero number may not change
        index = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
    else:  # ~1 allows 1.x; ~1.2 and ~1.2.3 allow 1.2.x
        index = 0 if len(numbers) == 1 else 1
    upper = numbers[:index] + [numbers[index] + 1]
    return f">={version},<{'.'.join(map(str, upper))}"


def _python_marker(constraint: str) -> str:
    spec = version_specifier(constraint)
    found = re.findall(r"(>=|<=|==|!=|~=|>|<)([\w.*]+)", spec)
    return " and ".join(f"python_version {op} '{version}'" for op, version in found)
