"""Which Python the project environment is built with: the python-version input's, else
the one the project names exactly (.python-version, Pipfile's [requires] python_version),
else the action's own. Another Python is found by uv (which may download it), else as
python3.X on PATH. A range (requires-python, Poetry's python) that excludes the action's
Python is named in the error with python-version.

The chosen interpreter is asked for its exact version, which goes into the cache key.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ssm_action.gates import isolation, pipenv, poetry
from ssm_action.gates.process import GateLog
from ssm_action.gates.projectfiles import pyproject

PROBE = ("import json, sys; print(json.dumps([sys.implementation.name, sys.version, "
         "getattr(sys, '_base_executable', sys.executable), '%d.%d' % sys.version_info[:2]]))")
CLAUSE = re.compile(r"^\s*(~=|==|!=|<=|>=|<|>)\s*([0-9]+(?:\.[0-9]+)*)(\.\*)?\s*$")
HOW = ("uv (in the action's image) finds it on PATH or downloads a managed build, which needs the network and "
       "UV_PYTHON_DOWNLOADS not set to never; without uv, put python{version} on PATH. actions/setup-python "
       "does not reach inside the action's container: let uv download it, or leave python-version empty to use "
       "the action's Python ({current}).")


@dataclass(frozen=True)
class Interpreter:
    path: str
    implementation: str
    version: str  # sys.version of that Python: the cache key changes with any rebuild of it
    base: str  # the executable a venv made from it points to
    minor: str  # e.g. 3.12


def current() -> Interpreter:
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return Interpreter(sys.executable, sys.implementation.name, sys.version,
                       getattr(sys, "_base_executable", sys.executable), minor)


def declared(root: Path) -> tuple[str, str]:
    """The X.Y the project names exactly, and the file that names it; ('', '') when none does."""
    found = re.match(r"^\s*(?:cpython-|python)?(3\.\d+)", _read(root / ".python-version"))
    if found:
        return found.group(1), ".python-version"
    version = pipenv.python_version(root)
    return (version, "Pipfile [requires] python_version") if version else ("", "")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def choose(wanted: str, source: str, *, uv: str | None, log: GateLog, cache: Path) -> Interpreter | str:
    """The Python for python-version (the action's own when empty), or why there is none.
    source: the project file the version comes from when python-version is empty."""
    if not wanted or wanted == current().minor:
        return current()
    if uv:
        found, detail = _with_uv(wanted, uv, log, cache)
    else:
        found, detail = shutil.which(f"python{wanted}") or "", f"python{wanted} is not on PATH"
    if found:
        done = log.run([found, "-c", PROBE], cwd=cache)
        try:
            implementation, version, base, minor = json.loads(done.stdout)
        except (ValueError, TypeError):
            detail = f"{found} does not start: {(done.stderr or done.stdout).strip()[-300:]}"
        else:
            if minor == wanted:
                return Interpreter(found, implementation, version, base, minor)
            detail = f"{found} is Python {minor}"
    how = HOW.format(version=wanted, current=current().minor)
    asked = f"python-version is empty and the project's {source} is {wanted}" if source else \
        f"python-version is {wanted}"
    return f"{asked} but no Python {wanted} was found ({detail}). {how}"


def _with_uv(wanted: str, uv: str, log: GateLog, cache: Path) -> tuple[str, str]:
    """uv's interpreter for the version: an installed one, else one it downloads now."""
    variables = {k: v for k, v in isolation.without_secrets(()).items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    variables.update(UV_NO_PROGRESS="1")
    variables.setdefault("UV_CACHE_DIR", str(cache / "uv"))
    variables.setdefault("UV_PYTHON_INSTALL_DIR", str(cache / "python"))  # a persisted cache keeps the download
    find = [uv, "python", "find", "--system", "--no-project", wanted]
    done = log.run(find, cwd=cache, env=variables)
    if done.returncode != 0 and os.environ.get("UV_PYTHON_DOWNLOADS", "") != "never":
        log.note(f"Python {wanted} is not installed: uv downloads it.")
        installed = log.run([uv, "python", "install", wanted], cwd=cache, env=variables)
        done = log.run(find, cwd=cache, env=variables) if installed.returncode == 0 else installed
    if done.returncode != 0:
        return "", " ".join(f"{done.stderr}\n{done.stdout}".split())[-400:] or "uv found none"
    return done.stdout.strip().splitlines()[-1], ""


def requires_python_note(root: Path) -> str:
    """Why the action's Python may be refused: the project's requires-python (or Poetry's
    python constraint) excludes it, or ''."""
    data = pyproject(root)
    spec = data.get("project", {}).get("requires-python")
    said = f"requires-python ({spec})"
    constraint = data.get("tool", {}).get("poetry", {}).get("dependencies", {}).get("python")
    if not isinstance(spec, str) and isinstance(constraint, str):
        spec = poetry.version_specifier(constraint)
        said = f"Poetry python constraint ({constraint}, i.e. {spec})"
    if not isinstance(spec, str) or allows(spec, sys.version_info[:3]):
        return ""
    return (f"The project's {said} excludes the action's Python {current().minor}: "
            f"set python-version to one it allows, e.g. the one its CI tests on.")


def allows(spec: str, version: tuple[int, ...]) -> bool:
    """Whether a version specifier such as '>=3.12,<4' allows the version (unknown clauses allow)."""
    return all(_clause(part, version) for part in spec.split(",") if part.strip())


def _clause(text: str, version: tuple[int, ...]) -> bool:
    match = CLAUSE.match(text)
    if not match:
        return True  # not a form read here: no claim that it excludes
    op, given, star = match.group(1), tuple(int(p) for p in match.group(2).split(".")), match.group(3)
    if star:  # ==3.12.* and !=3.12.*
        return (version[:len(given)] == given) == (op == "==")
    if op == "~=":  # ~=3.12 is >=3.12 with the same 3
        return version >= given and version[:len(given) - 1] == given[:-1]
    width = max(len(given), len(version))  # 3.12 is 3.12.0
    have, want = version + (0,) * (width - len(version)), given + (0,) * (width - len(given))
    return {"==": have == want, "!=": have != want, "<=": have <= want, ">=": have >= want,
            "<": have < want, ">": have > want}[op]
