"""What the tests gate measures coverage of: what the project itself measures. Its own
--cov (pytest-args, addopts), else its coverage configuration's source, else its own
importable packages and modules. Never its tests, build hooks or generated code
(migrations, *_pb2.py), unless its coverage configuration chooses what to measure."""

from __future__ import annotations

import configparser
import shlex
from collections.abc import Sequence
from pathlib import Path

from ssm_action.gates.projectfiles import ini, pyproject
from ssm_action.gates.projectfiles import tox as tox_config

# pytest-cov options that set no source (they tune a measurement chosen elsewhere)
TUNING = ("--cov-report", "--cov-fail-under", "--cov-config", "--cov-branch", "--cov-append", "--cov-context",
          "--cov-precision")
NOT_CODE = frozenset({"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "scripts",
                      "build", "dist"})
NOT_MODULES = frozenset({"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "tasks.py", "manage.py",
                         "hatch_build.py"})
# Never the project's own code (anchored at the project: its checkout's path may hold "tests");
# `**/` matches any depth, none included
OMIT = ("tests/*", "test/*", "**/tests/*", "**/test/*", "**/test_*.py", "**/*_test.py", "**/tests.py",
        "**/conftest.py", "**/migrations/*", "**/*_pb2.py", "**/*_pb2_grpc.py", "**/hatch_build.py")
SCOPE_KEYS = ("source", "source_pkgs", "include", "omit")
RC_NAME = "coveragerc"
# (file, section) pairs in the order pytest looks for its configuration
PYTEST_INI = (("pytest.ini", "pytest"), (".pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest"))
SOURCE_KEYS = ("source", "source_pkgs")
COVERAGE_INI = ((".coveragerc", "run"), ("setup.cfg", "coverage:run"), ("tox.ini", "coverage:run"))


def scope(root: Path, pytest_args: Sequence[str], cache_directory: Path) -> tuple[list[str], str]:
    """The --cov arguments to add, and where the scope comes from."""
    if _sets_source(pytest_args):
        return [], "--cov in pytest-args"
    if _sets_source(addopts(root)):
        return [], "--cov in the project's pytest addopts"
    tox = tox_sources(root)
    if tox:
        return [f"--cov={name}" for name in tox], f"--cov in {tox_config(root)[1]}'s [testenv] commands"
    where = configured_source(root)
    if where:
        return ["--cov"], f"source in {where}"
    names = own_code(root, cache_directory)
    if names:
        return [f"--cov={name}" for name in names], f"the project's own code ({', '.join(names)})"
    return ["--cov"], "everything run (no package or module of the project found)"


def _sets_source(args: Sequence[str]) -> bool:
    return any(arg == "--cov" or (arg.startswith("--cov") and not arg.startswith(TUNING))
               for arg in args if not arg.startswith("--no-cov"))


def addopts(root: Path) -> list[str]:
    """pytest's addopts from the configuration file pytest itself would use."""
    data = pyproject(root)
    for name, section in PYTEST_INI:
        if name == "tox.ini" and "ini_options" in data.get("tool", {}).get("pytest", {}):
            break  # pyproject.toml comes before tox.ini
        parser = ini(root / name)
        if parser.has_section(section):
            return shlex.split(parser[section].get("addopts", ""))
    options = data.get("tool", {}).get("pytest", {}).get("ini_options", {})
    value = options.get("addopts", "")
    return list(value) if isinstance(value, list) else shlex.split(value)


def tox_sources(root: Path) -> list[str]:
    """The sources of `--cov X` / `--cov=X` in the pytest command of tox's [testenv]."""
    parser, _ = tox_config(root)
    try:
        words = shlex.split(parser.get("testenv", "commands", fallback="").replace("\\\n", " "))
    except ValueError:
        return []
    found = []
    for index, word in enumerate(words):
        if word.startswith("--cov="):
            found.append(word.split("=", 1)[1])
        elif word == "--cov" and index + 1 < len(words) and not words[index + 1].startswith("-"):
            found.append(words[index + 1])
    return [name for name in found if name and "{" not in name]


def configured_source(root: Path) -> str:
    """Where the coverage configuration sets the source (or a plugin that sets it, covdefaults)."""
    for name, section in COVERAGE_INI:
        parser = ini(root / name)
        if any(parser.has_option(section, key) for key in SOURCE_KEYS) or _sets_by_plugin(
                parser.get(section, "plugins", fallback="")):
            return f"{name} [{section}]"
    run = pyproject(root).get("tool", {}).get("coverage", {}).get("run", {})
    if any(key in run for key in SOURCE_KEYS) or _sets_by_plugin(" ".join(run.get("plugins", []))):
        return "pyproject.toml [tool.coverage.run]"
    return ""


def _sets_by_plugin(plugins: str) -> bool:
    return "covdefaults" in plugins  # it sets source to the project folder


def own_code(root: Path, cache_directory: Path) -> list[str]:
    """The project's top-level packages and modules (src/ layout too), without tests."""
    names = []
    for base in (root / "src", root):
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if entry.name.startswith((".", "_")) or entry.name in NOT_CODE or entry.resolve() == cache_directory:
                continue
            if entry.is_dir() and (entry / "__init__.py").is_file():
                names.append(entry.name)
            elif entry.suffix == ".py" and entry.name not in NOT_MODULES and not _is_test(entry.stem):
                names.append(entry.stem)
    return list(dict.fromkeys(names))


def _is_test(stem: str) -> bool:
    return stem in ("test", "tests") or stem.startswith(("test_", "tests_")) or stem.endswith(("_test", "_tests"))


def rcfile(root: Path, scratch: Path, omit: Sequence[str] = ()) -> tuple[Path | None, str]:
    """A coverage configuration that leaves out tests and generated code (or what the command
    line's --omit says): the project's own settings with that omit; None when its configuration
    already says what to measure."""
    name, config = _project_config(root)
    if not omit and (config.has_section("run") and any(config.has_option("run", key) for key in SCOPE_KEYS)
                     or _sets_by_plugin(config.get("run", "plugins", fallback=""))):
        return None, f"its {name} chooses what is measured"
    if not config.has_section("run"):
        config.add_section("run")
    patterns = list(omit) or [f"{root}/{pattern}" for pattern in OMIT]
    config.set("run", "omit", "\n" + "\n".join(patterns))
    if omit:
        path = scratch / RC_NAME
        with open(path, "w", encoding="utf-8") as handle:
            config.write(handle)
        return path, f"{name + ' with ' if name else ''}the command line's --omit"
    path = scratch / RC_NAME
    with open(path, "w", encoding="utf-8") as handle:
        config.write(handle)
    origin = f"{name}'s settings, " if name else ""
    return path, f"{origin}without tests, migrations, build hooks and generated code"


def _project_config(root: Path) -> tuple[str, configparser.ConfigParser]:
    """The coverage configuration coverage.py itself would read, as one ini: [run], [report]..."""
    merged = configparser.ConfigParser(interpolation=None)
    for name, prefix in ((".coveragerc", ""), ("setup.cfg", "coverage:"), ("tox.ini", "coverage:")):
        parser = ini(root / name)
        sections = [s for s in parser.sections() if s.startswith(prefix) and (prefix or ":" not in s)]
        if sections:
            for section in sections:
                merged[section.removeprefix(prefix)] = dict(parser[section])
            return name, merged
    tables = pyproject(root).get("tool", {}).get("coverage", {})
    for section, values in tables.items():
        if isinstance(values, dict):
            merged[section] = {key: _ini_value(value) for key, value in values.items() if not isinstance(value, dict)}
    return ("pyproject.toml" if tables else ""), merged


def _ini_value(value: object) -> str:
    if isinstance(value, list):
        return "\n" + "\n".join(str(item) for item in value)
    return str(value).lower() if isinstance(value, bool) else str(value)
