"""python-version: the project environment built with another Python than the action's.

The other Python is one of this machine's pyenv builds, put first on PATH (never the pyenv
shims: they refuse a version that is not selected); uv is told never to download one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ssm_action.gates import interpreter, projectenv
from ssm_action.gates.model import ERROR, FAILED, PASSED
from ssm_action.gates.process import GateLog
from tests.gates.conftest import by_name, gates_config, run_gates

OTHER = (3, 12) if sys.version_info[:2] != (3, 12) else (3, 10)
VERSION = f"{OTHER[0]}.{OTHER[1]}"
PYENV = Path("/root/.pyenv/versions")
OTHER_BIN = next(iter(sorted(PYENV.glob(f"{VERSION}.*/bin"))), None)
needs_other = pytest.mark.skipif(OTHER_BIN is None and not os.environ.get("SSM_ACTION_REQUIRE_PYTHONS"),
                                 reason=f"no pyenv Python {VERSION} on this machine")


@pytest.fixture
def other_python(monkeypatch):
    """Python VERSION first on PATH; uv may not download any Python."""
    assert OTHER_BIN is not None, f"no pyenv Python {VERSION} under {PYENV}"
    monkeypatch.setenv("PATH", f"{OTHER_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")


def _project(root: Path) -> Path:
    (root / "requirements.txt").write_text("bottle==0.13.4\n")
    (root / "app.py").write_text('"""The app."""\nimport bottle\n\nVERSION = bottle.__version__\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_version.py").write_text(
        '"""The Python."""\nimport sys\n\nimport app\n\n\ndef test_the_python():\n    """The one asked for."""\n'
        f"    assert sys.version_info[:2] == {OTHER!r}\n    assert app.VERSION\n")
    return root


@needs_other
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_the_tests_run_on_the_python_version_asked_for(tmp_path, other_python, installer):
    project = _project(tmp_path)
    asked = by_name(run_gates(project, installer, gates="tests, smoke, deps, pylint", python_version=VERSION,
                              smoke_imports="app, bottle"))
    assert {name: r.state for name, r in asked.items()} == dict.fromkeys(("tests", "smoke", "deps", "pylint"),
                                                                         PASSED), asked["tests"].log
    # pylint (the action's Python) still resolves the imports from the other Python's site-packages
    assert not [f for f in asked["pylint"].outcome.findings if "import-error" in f.code]
    default = by_name(run_gates(project, installer, gates="tests"))
    assert default["tests"].state == FAILED
    envs = sorted(p.name for p in (project / ".ssm-action-cache" / "envs").iterdir() if p.is_dir())
    assert len(envs) == 1 and f"-py{sys.version_info[0]}.{sys.version_info[1]}-" in envs[0]  # the other pruned


@needs_other
def test_the_cache_key_is_the_python_actually_used(tmp_path, other_python):
    reqs = projectenv.find_requirements(gates_config(_project(tmp_path)))
    found = interpreter.choose(VERSION, "", uv=None, log=GateLog(60), cache=tmp_path)
    assert isinstance(found, interpreter.Interpreter) and found.minor == VERSION
    assert found.version.startswith(f"{VERSION}.") and found.path.startswith(str(OTHER_BIN))
    other, own = projectenv.cache_key(reqs, found), projectenv.cache_key(reqs)
    assert f"-py{VERSION}-" in other and other != own
    assert own == projectenv.cache_key(reqs, interpreter.current())
    rebuilt = interpreter.Interpreter(found.path, found.implementation, found.version + "+", found.base, VERSION)
    assert projectenv.cache_key(reqs, rebuilt) != other


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_missing_python_is_a_clear_error(tmp_path, monkeypatch, installer):
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    results = by_name(run_gates(_project(tmp_path), installer, gates="tests, flake8", python_version="3.99"))
    assert results["tests"].state == ERROR
    message = results["tests"].outcome.message
    assert "python-version is 3.99 but no Python 3.99 was found" in message
    assert "actions/setup-python does not reach inside the action's container" in message
    assert results["flake8"].state == PASSED  # the action's own tools do not need it


def test_a_requires_python_that_excludes_the_actions_python_names_python_version(tmp_path):
    minor = sys.version_info[1]
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "demo"\nversion = "1"\n'
                                             f'requires-python = ">=3.{minor + 1}"\n')
    with pytest.raises(projectenv.EnvError) as raised:
        projectenv.prepare(gates_config(tmp_path), GateLog(600), "uv")
    assert f"The project's requires-python (>=3.{minor + 1}) excludes the action's Python 3.{minor}: " \
           "set python-version" in str(raised.value)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "1"\ndependencies = ["x-no-0f3a"]\n')
    with pytest.raises(projectenv.EnvError) as other:
        projectenv.prepare(gates_config(tmp_path), GateLog(600), "uv")
    assert "requires-python" not in str(other.value)


@pytest.mark.parametrize("spec, allowed", [
    (">=3.8", True), (">=3.99", False), ("<3.2", False), (">=3.8,<4", True), ("==3.*", True), ("!=3.*", False),
    ("~=3.0", True), ("~=3.99", False), (">3", True), ("==2.7", False), ("an unknown form", True)])
def test_requires_python_is_read_as_the_installers_do(spec, allowed):
    assert interpreter.allows(spec, sys.version_info[:3]) is allowed


@needs_other
@pytest.mark.parametrize("declares", [".python-version", "Pipfile"])
def test_the_python_the_project_names_is_the_default(tmp_path, other_python, declares):
    project = _project(tmp_path)
    if declares == "Pipfile":
        pipfile = f'[packages]\nbottle = "==0.13.4"\n\n[requires]\npython_version = "{VERSION}"\n'
        (project / "Pipfile").write_text(pipfile)
    else:
        (project / ".python-version").write_text(f"{VERSION}.1\n")
    tests = by_name(run_gates(project, "uv", gates="tests"))["tests"]
    assert tests.state == PASSED, tests.log


@pytest.mark.parametrize("declares, source", [(".python-version", ".python-version"),
                                              ("Pipfile", "Pipfile [requires] python_version")])
def test_a_named_python_that_is_missing_names_the_file_and_python_version(tmp_path, monkeypatch, declares, source):
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    if declares == "Pipfile":
        (tmp_path / "Pipfile").write_text('[requires]\npython_version = "3.99"\n')
    else:
        (tmp_path / ".python-version").write_text("3.99\n")
    assert interpreter.declared(tmp_path) == ("3.99", source)
    with pytest.raises(projectenv.EnvError) as raised:
        projectenv.prepare(gates_config(tmp_path), GateLog(600), "uv")
    assert f"python-version is empty and the project's {source} is 3.99 but no Python 3.99 was found" \
        in str(raised.value)


def test_a_poetry_python_constraint_that_excludes_the_actions_python_names_python_version(tmp_path):
    minor = sys.version_info[1]
    (tmp_path / "pyproject.toml").write_text(f'[tool.poetry]\nname = "app"\nversion = "1"\npackage-mode = false\n\n'
                                             f'[tool.poetry.dependencies]\npython = "^3.{minor + 1}"\nbottle = "*"\n')
    results = by_name(run_gates(tmp_path, "uv", gates="tests, deps"))
    for name in ("tests", "deps"):
        message = results[name].outcome.message
        assert results[name].state == ERROR, message
        assert f"Poetry python constraint (^3.{minor + 1}, i.e. >=3.{minor + 1},<4) excludes the action's " \
               f"Python 3.{minor}: set python-version" in message
        assert "the requirements conflict" not in message
