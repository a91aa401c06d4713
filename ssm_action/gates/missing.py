"""What the project declares and its environment lacks: the names its declaration files
(as the guess reads them, whatever the install input) require for this Python, checked
against the distributions installed. pip check only judges what is installed."""

from __future__ import annotations

import re
from pathlib import Path

from ssm_action.gates import declared

NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:[<>=!~;@ ]|$)")
PY_CLAUSE = re.compile(r"""^\(?\s*python_(?:full_)?version\s*(==|!=|>=|<=|>|<)\s*["']([\d.]+)["']\s*\)?$""")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


Declared = tuple[tuple[str, str, str], ...]  # (normalised name, its marker, the file that declares it)


def declared_names(root: Path, requirements_file: str) -> Declared:
    """Every requirement with a name that the project declares, with its marker and source."""
    plan = declared.plan(root, requirements_file, ())
    found: dict[tuple[str, str], str] = {}
    lines = [(line, "Pipfile.lock") for line in plan.hashed_lines]
    lines += [(line, "the project's declaration") for line in _specs(plan.args)]
    lines += [(line, name) for name in _required_files(root, plan.files) for line in _lines(root / name)]
    for line, source in lines:
        match = NAME.match(line.strip())
        if match and not line.strip().startswith(("-", "#")):
            marker = line.partition(";")[2].split(" --hash")[0].strip(" \\")
            found.setdefault((normalise(match.group(1)), marker), source)
    return tuple((name, marker, source) for (name, marker), source in found.items())


def _required_files(root: Path, files: list[str]) -> list[str]:
    """The requirement files and those they include with -r (not -c: constraints are not requirements)."""
    found: list[str] = []
    todo = list(files)
    while todo:
        name = todo.pop(0)
        if name in found or not (root / name).is_file():
            continue
        found.append(name)
        for line in _lines(root / name):
            words = line.split()
            if len(words) >= 2 and words[0] in ("-r", "--requirement"):
                todo.append((Path(name).parent / words[1]).as_posix())
    return found


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _specs(args: list[str]) -> list[str]:
    """Requirement specifiers among installer arguments (not -r/-e/-c and their values)."""
    specs, skip = [], False
    for arg in args:
        if skip or arg.startswith("-"):
            skip = arg in ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")
            continue
        specs.append(arg)
    return specs


def missing(site: Path, names: Declared, python: tuple[int, ...]) -> list[tuple[str, str]]:
    """(name, source) of the declared requirements for this Python that are not installed."""
    installed = {normalise(p.name.split("-")[0]) for p in [*site.glob("*.dist-info"), *site.glob("*.egg-info")]}
    absent = []
    for name, marker, source in names:
        if name not in installed and _applies(marker, python):
            absent.append((name, source))
    return absent


def _applies(marker: str, python: tuple[int, ...]) -> bool:
    """Whether a marker holds for this Python; a marker on anything else is not judged (False)."""
    if not marker:
        return True
    clauses = [c.strip() for c in re.split(r"\band\b", marker.strip("() "))]
    for clause in clauses:
        match = PY_CLAUSE.match(clause)
        if not match:
            return False
        want = tuple(int(n) for n in match.group(2).split("."))[:2]
        have = python[:len(want)]
        if not {"==": have == want, "!=": have != want, ">=": have >= want, "<=": have <= want,
                ">": have > want, "<": have < want}[match.group(1)]:
            return False
    return True
