"""A Pipenv project's declaration, read the way `pipenv sync --dev` reads it: Pipfile.lock's
`default` and `develop` pins with their hashes; without a lock, the Pipfile's [packages]
and [dev-packages]. Also the Python it asks for ([requires] python_version)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PIPFILE, LOCK = "Pipfile", "Pipfile.lock"
LOCK_SECTIONS = ("default", "develop")  # what `pipenv sync --dev` installs
PIPFILE_SECTIONS = ("packages", "dev-packages")


class PipenvError(Exception):
    """The Pipfile or Pipfile.lock cannot be read."""


@dataclass
class Declared:
    hashed: list[str] = field(default_factory=list)  # requirement lines with --hash options
    specs: list[str] = field(default_factory=list)  # installer arguments without hashes (-e, git, ranges)
    pins: list[str] = field(default_factory=list)  # name==version of every locked package
    reason: str = ""


def read(root: Path) -> Declared | None:
    """What the Pipenv project installs for its tests, or None when it has no Pipfile."""
    if (root / LOCK).is_file():
        return _from_lock(_load(root / LOCK, json.loads))
    if (root / PIPFILE).is_file():
        return _from_pipfile(_load(root / PIPFILE, tomllib.loads))
    return None


def python_version(root: Path) -> str:
    """[requires] python_version (or python_full_version's X.Y) of the Pipfile, or ''."""
    try:
        requires = _load(root / PIPFILE, tomllib.loads).get("requires", {})
    except PipenvError:
        return ""
    version = requires.get("python_version") or requires.get("python_full_version") or ""
    return ".".join(str(version).split(".")[:2]) if isinstance(version, (str, int, float)) else ""


def _load(path: Path, parse: Any) -> dict[str, Any]:
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except OSError:
        return {}
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise PipenvError(f"{path.name} cannot be read: {exc}") from None
    return data if isinstance(data, dict) else {}


def _from_lock(lock: dict[str, Any]) -> Declared:
    found = Declared()
    seen: set[str] = set()
    for section in LOCK_SECTIONS:
        for name, entry in (lock.get(section) or {}).items():
            if name.lower() in seen or not isinstance(entry, dict):
                continue
            seen.add(name.lower())
            _locked_entry(name, entry, found)
    found.reason = (f"Pipfile.lock ({len(seen)} packages of default and develop, {len(found.hashed)} "
                    f"with their hashes): as `pipenv sync --dev` installs them")
    return found


def _locked_entry(name: str, entry: dict[str, Any], found: Declared) -> None:
    marker = f" ; {entry['markers']}" if entry.get("markers") else ""
    version = str(entry.get("version", ""))
    hashes = [h for h in entry.get("hashes", []) if isinstance(h, str)]
    if version.startswith("==") and hashes:
        extras = f"[{','.join(entry['extras'])}]" if entry.get("extras") else ""
        options = " ".join(f"--hash={h}" for h in hashes)
        found.hashed.append(f"{name}{extras}{version}{marker} {options}")
        found.pins.append(f"{name}{version}{marker}")
    else:
        found.specs += _spec(name, entry)


def _from_pipfile(pipfile: dict[str, Any]) -> Declared:
    found = Declared()
    for section in PIPFILE_SECTIONS:
        for name, entry in (pipfile.get(section) or {}).items():
            found.specs += _spec(name, entry)
    found.reason = (f"Pipfile [packages] and [dev-packages] ({len(found.specs)}): there is no Pipfile.lock, "
                    f"so the versions are resolved now")
    return found


def _spec(name: str, entry: Any) -> list[str]:
    """One Pipfile (or lock) entry as installer arguments: '*', '>=1.2', or a table."""
    if isinstance(entry, str):
        return [name if entry.strip() in ("*", "") else f"{name}{entry.strip()}"]
    if not isinstance(entry, dict):
        return [name]
    if "path" in entry:
        return ["-e", str(entry["path"])] if entry.get("editable") else [str(entry["path"])]
    extras = f"[{','.join(entry['extras'])}]" if entry.get("extras") else ""
    marker = f" ; {entry['markers']}" if entry.get("markers") else ""
    if "git" in entry:
        ref = f"@{entry['ref']}" if entry.get("ref") else ""
        git = str(entry["git"])
        return [f"{name}{extras} @ {git if git.startswith('git+') else 'git+' + git}{ref}{marker}"]
    if "file" in entry:
        return [f"{name}{extras} @ {entry['file']}{marker}"]
    version = str(entry.get("version", "*")).strip()
    return [f"{name}{extras}{'' if version == '*' else version}{marker}"]
