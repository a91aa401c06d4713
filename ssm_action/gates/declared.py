"""What the project declares it needs, read the way its own tools read it: PEP 621
(any build backend), setup.py / setup.cfg, Poetry, PEP 735 dependency groups, extras,
requirement files (and those its tox, nox or CI config points at, and pip-tools' compiled
ones), Pipenv's Pipfile.lock or Pipfile, uv.lock and poetry.lock. The result is the
installer's arguments, the reasons, and every file that decides the environment (for the
cache key)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssm_action.gates import hatch, pipenv, piptools, poetry, projectfiles, testcommand
from ssm_action.gates.projectfiles import ini
from ssm_action.gates.reqfiles import included

TEST_NAMES = ("test", "tests", "testing", "dev")  # groups and extras that hold test dependencies
USUAL_FILES = ("requirements-dev.txt", "requirements-test.txt", "requirements-tests.txt", "test-requirements.txt",
               "dev-requirements.txt", "requirements/test.txt", "requirements/tests.txt", "requirements/dev.txt")
CI_FILES = ("tox.ini", "noxfile.py", ".github/workflows/*.yml", ".github/workflows/*.yaml")
POINTED = re.compile(r"""(?:-r\s*|--requirement[=\s]+|["']-r["'],\s*)["']?((?:\{toxinidir\}/)?[\w./-]+\.txt)""")
LOCKS = ("uv.lock", "poetry.lock")
NOT_TESTS = ("doc", "mypy", "lint", "typing")  # requirement files of other CI jobs
OTHER_TOX_ENVS = ("format", "style", "setuppy", "build", "release", "pre-commit", "flake8", "black")
REGISTRY_SOURCES = ("registry", "pypi", "legacy")
DECIDING_TABLES = ("build-system", "project", "dependency-groups")


class DeclarationError(Exception):
    """The project's declaration (or the install input) cannot be followed."""


@dataclass
class Plan:
    args: list[str] = field(default_factory=list)  # for `pip install` / `uv pip install`
    reasons: list[str] = field(default_factory=list)  # what is installed and why
    pins: list[str] = field(default_factory=list)  # name==version from a lock file (constraints)
    files: list[str] = field(default_factory=list)  # requirement files named, relative to the project
    # Installed first, on their own: pip checks every hash once one requirement has hashes.
    hashed_args: list[str] = field(default_factory=list)  # e.g. -r requirements.txt (a file with --hash)
    hashed_lines: list[str] = field(default_factory=list)  # requirement lines with --hash (Pipfile.lock)

    def add_file(self, option: str, name: str, why: str) -> None:
        self.args += [option, name]
        self.files.append(name)
        self.reasons.append(f"`{option} {name}`: {why}")


def _toml(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"pyproject.toml is not valid TOML: {exc}") from None


def plan(root: Path, requirements_file: str, install: tuple[str, ...], test_command: tuple[str, ...] = ()) -> Plan:
    """The installer's arguments: the install input exactly when given, else the guess."""
    data = _toml(root)
    result = _explicit(root, data, install) if install else _guess(root, data, requirements_file, test_command)
    _pin_from_locks(root, result)
    _hashed_first(root, result)
    return result


def _explicit(root: Path, data: dict[str, Any], install: tuple[str, ...]) -> Plan:
    result = Plan()
    if install == ("none",):
        result.reasons.append("nothing of the project's (install: none)")
        return result
    words = list(install)
    while words:
        word = words.pop(0)
        if word in ("-r", "--requirement", "-c", "--constraint"):
            name = words.pop(0) if words else ""
            if not (root / name).is_file():
                raise DeclarationError(f"install names {word} {name}, which is not a file in {root}.")
            result.add_file(word, name, "the install input")
        elif word == "--group":
            group = words.pop(0) if words else ""
            specs = _group(root, data, group)
            if specs is None:
                raise DeclarationError(f"install names --group {group}, which pyproject.toml does not declare.")
            result.args += specs
            result.reasons.append(f"group `{group}` ({len(specs)} requirements): the install input")
        elif word in ("-e", "--editable"):
            result.args += [word, words.pop(0) if words else "."]
            result.reasons.append(f"`{word} {result.args[-1]}`: the install input")
        else:
            result.args.append(word)
            result.reasons.append(f"`{word}`: the install input")
    return result


def _guess(root: Path, data: dict[str, Any], requirements_file: str, test_command: tuple[str, ...] = ()) -> Plan:
    result = Plan()
    if (root / requirements_file).is_file():
        result.add_file("-r", requirements_file, "requirements-file")
    elif requirements_file != "requirements.txt":
        raise DeclarationError(f"requirements-file {requirements_file} does not exist in {root}.")
    environment = hatch.env(root, testcommand.choose(root, test_command).hatch_env or "-")
    if environment:  # the tests run in a Hatch environment: what it declares, and only that
        _hatch(environment, result)
        return result
    _project(root, data, result)
    for name in TEST_NAMES:
        specs = _group(root, data, name)
        if specs is not None:
            result.args += specs
            result.reasons.append(f"group `{name}` ({len(specs)} requirements): a usual name for test dependencies")
            break
    tox_declares = _tox_deps(root, result)
    pointed = [name for name in _pointed_files(root) if name not in result.files]
    for name in pointed:
        result.add_file("-r", name, "named by the project's tox, nox or CI configuration")
    usual = next((name for name in USUAL_FILES if (root / name).is_file()), "")
    if not pointed and not tox_declares and usual and usual not in result.files:
        result.add_file("-r", usual, "a usual name for test requirements (set install to choose)")
    for name in piptools.files(root):
        if name not in result.files:
            result.add_file("-r", name, "compiled by pip-tools from its .in file (the app's or its tests')")
    _pipenv(root, result)
    return result


def _pipenv(root: Path, result: Plan) -> None:
    try:
        found = pipenv.read(root)
    except pipenv.PipenvError as exc:
        raise DeclarationError(str(exc)) from None
    if found:
        result.hashed_lines += found.hashed
        result.args += found.specs
        result.pins += found.pins
        result.reasons.append(found.reason)


def _hashed_first(root: Path, result: Plan) -> None:
    """Requirement files with --hash options go to the first install, on their own."""
    for index in range(len(result.args) - 2, -1, -1):
        option, name = (result.args[index:index + 2] + [""])[:2]
        if option in ("-r", "--requirement") and name and piptools.has_hashes(root / name):
            result.hashed_args[:0] = result.args[index:index + 2]
            del result.args[index:index + 2]


def _project(root: Path, data: dict[str, Any], result: Plan) -> None:
    """The project itself, editable, with its first test extra; or Poetry's dependencies
    when it is not a package."""
    tool_poetry = data.get("tool", {}).get("poetry", {})
    packaged = "project" in data or (root / "setup.py").is_file() or ini(root / "setup.cfg").has_section("metadata")
    if tool_poetry and not packaged and (tool_poetry.get("package-mode") is False or "build-system" not in data):
        specs = poetry.requirements(root, tool_poetry.get("dependencies", {}))
        result.args += specs
        result.reasons.append(f"[tool.poetry.dependencies] ({len(specs)}): a Poetry project that is not a package")
        return
    if not (packaged or tool_poetry):
        return
    extra = next((name for name in TEST_NAMES if name in _extras(root, data)), "")
    target = f".[{extra}]" if extra else "."
    result.args += ["-e", target]
    why = f" with its extra `{extra}`" if extra else ""
    result.reasons.append(f"`-e {target}`: the project itself, as it declares itself{why}")


def _hatch(environment: hatch.Env, result: Plan) -> None:
    why = f"the Hatch environment `{environment.name}` the tests run in"
    if environment.install_project:
        target = f".[{','.join(environment.features)}]" if environment.features else "."
        result.args += ["-e", target] if environment.editable else [target]
        result.reasons.append(f"`{target}`: the project itself, with its features, as {why} installs it")
    result.args += environment.dependencies
    if environment.dependencies:
        result.reasons.append(f"{len(environment.dependencies)} dependencies and extra-dependencies of {why}")


def _extras(root: Path, data: dict[str, Any]) -> set[str]:
    names = set(data.get("project", {}).get("optional-dependencies", {}))
    names |= set(data.get("tool", {}).get("poetry", {}).get("extras", {}))
    cfg = ini(root / "setup.cfg")
    if cfg.has_section("options.extras_require"):
        names |= set(cfg["options.extras_require"])
    setup_py = root / "setup.py"
    if setup_py.is_file():
        text = setup_py.read_text(encoding="utf-8", errors="replace")
        start = text.find("extras_require")
        if start >= 0:
            names |= set(re.findall(r"""["'](\w+)["']\s*:""", text[start:start + 2000]))
    return names


def _group(root: Path, data: dict[str, Any], name: str) -> list[str] | None:
    """A PEP 735 group (with its include-group entries) or a Poetry group, as requirements."""
    groups = data.get("dependency-groups", {})
    if name in groups:
        return _pep735(groups, name, set())
    tool_poetry = data.get("tool", {}).get("poetry", {})
    found = tool_poetry.get("group", {}).get(name, {}).get("dependencies")
    if found is None and name == "dev":
        found = tool_poetry.get("dev-dependencies")
    return None if found is None else poetry.requirements(root, found)


def _pep735(groups: dict[str, Any], name: str, seen: set[str]) -> list[str]:
    if name in seen:
        raise DeclarationError(f"dependency group {name} includes itself.")
    seen.add(name)
    specs = []
    for item in groups.get(name, []):
        if isinstance(item, dict) and "include-group" in item:
            specs += _pep735(groups, item["include-group"], seen)
        elif isinstance(item, str):
            specs.append(item)
    return specs


def _tox_deps(root: Path, result: Plan) -> bool:
    """Plain requirements in tox's [testenv] deps (the project's tests run with them); True when
    tox's test environment declares its dependencies (then no file is guessed by its name)."""
    tox, where = projectfiles.tox(root)
    if not tox.has_option("testenv", "deps"):
        return False
    specs = [line.strip() for line in tox["testenv"]["deps"].splitlines()
             if line.strip() and not line.strip().startswith(("-", "#", "{")) and not re.match(r"^[\w,-]+:\s", line)]
    if specs:
        result.args += specs
        result.reasons.append(f"{', '.join(f'`{spec}`' for spec in specs)}: {where} [testenv] deps")
    return True


def _tox_test_text(path: Path) -> str:
    """The parts of tox.ini its test environments use: [testenv] and [testenv:<name>] whose name
    is not another job's (docs, format, lint...): schedule's docs env installs requirements-dev.txt."""
    tox = ini(path)
    sections = [name for name in tox.sections() if name == "testenv" or (
        name.startswith("testenv:") and not any(word in name for word in NOT_TESTS + OTHER_TOX_ENVS))]
    return "\n".join(value for name in sections for value in tox[name].values())


def _pointed_files(root: Path) -> list[str]:
    """Requirement files that tox.ini, noxfile.py or the CI workflows install (not those of
    the docs, lint or typing jobs)."""
    found: list[str] = []
    for pattern in CI_FILES:
        for config in sorted(root.glob(pattern)):
            text = (_tox_test_text(config) if config.name == "tox.ini"
                    else config.read_text(encoding="utf-8", errors="replace"))
            for match in POINTED.finditer(text):
                name = match.group(1).replace("{toxinidir}/", "")
                if (root / name).is_file() and not any(word in name for word in NOT_TESTS) and name not in found:
                    found.append(name)
    return found


def _pin_from_locks(root: Path, result: Plan) -> None:
    """Every package a lock file pins becomes a constraint: the gates test what the lock says.
    A package locked at several versions (one per Python or platform) keeps each one's markers."""
    for name in LOCKS:
        path = root / name
        if not path.is_file():
            continue
        packages = [p for p in tomllib.loads(path.read_text(encoding="utf-8")).get("package", [])
                    if "version" in p and _from_registry(p)]
        names = [p["name"].lower() for p in packages]
        pins = [_pin(p, several=names.count(p["name"].lower()) > 1) for p in packages]
        result.pins += [pin for pin in pins if pin]
        result.reasons.append(f"{len(result.pins)} versions pinned by {name}")


def _pin(package: dict[str, Any], several: bool) -> str:
    pin = f"{package['name']}=={package['version']}"
    if not several:
        return pin
    markers = package.get("markers") or " or ".join(f"({m})" for m in package.get("resolution-markers", []))
    return f"{pin} ; {markers}" if markers and isinstance(markers, str) else ""  # unknown: left to the resolver


def _from_registry(package: dict[str, Any]) -> bool:
    source = package.get("source", {})
    return not source or bool(set(source) & set(REGISTRY_SOURCES)) or source.get("type") in REGISTRY_SOURCES


def deciding_files(root: Path, result: Plan) -> list[tuple[str, bytes]]:
    """Everything that decides the environment, as (name, content): requirement files
    (with their -r / -c includes), the pyproject tables that declare, setup.py,
    setup.cfg, tox.ini and the lock files."""
    hashed = list(included(root, result.files))
    data = _toml(root)
    if data:
        decisive = {k: data.get(k) for k in DECIDING_TABLES}
        decisive["poetry"] = data.get("tool", {}).get("poetry")
        hashed.append(("pyproject.toml", json.dumps(decisive, sort_keys=True, default=str).encode()))
    for name in ("setup.py", "setup.cfg", "tox.ini", *LOCKS, pipenv.PIPFILE, pipenv.LOCK):
        if (root / name).is_file():
            hashed.append((name, (root / name).read_bytes()))
    installed = result.hashed_args + result.hashed_lines + result.args + result.pins
    hashed.append(("(installer arguments)", shlex.join(installed).encode()))
    return hashed
