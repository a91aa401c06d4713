"""What the gates install, read from the project's own files (no environment built here),
the install input that replaces the guess, and the cache key over every deciding file."""

from __future__ import annotations

import shutil

import pytest

from ssm_action.gates import covscope, declared, poetry, projectenv
from ssm_action.gates.pytest_gate import judge_coverage
from tests.gates.conftest import SHAPES, gates_config


def _plan(project, install=()):
    return declared.plan(project, "requirements.txt", tuple(install))


@pytest.mark.parametrize("shape, args", [
    ("setup-py", ["-e", ".[test]"]),
    ("setup-cfg", ["-e", ".[testing]"]),
    ("poetry", ["-e", ".", "pytest>=8", "pytest-cov", "pytest-mock>=3.10,<4"]),
    ("pep735", ["-e", ".", "pytest", "pytest-mock", "pytest-cov"]),
    ("hatch-extras", ["-e", ".[testing]"]),
    ("tox-cov", ["-e", ".", "pytest", "pytest-cov"]),
    ("coveragerc", ["-r", "requirements.txt"]),
    ("src-layout", ["-e", ".[test]"]),
    ("uv-lock", ["-e", "."]),
    ("ruff-project", ["-e", ".[dev]"]),
    ("broken-plugin", ["-r", "requirements-dev.txt"]),
])
def test_each_shape_is_installed_as_it_declares_itself(shape, args):
    found = _plan(SHAPES / shape)
    assert found.args == args
    assert len(found.reasons) >= 1


def test_a_lock_file_pins_what_it_locks():
    assert _plan(SHAPES / "uv-lock").pins == ["six==1.15.0"]  # not the project itself (editable)


def test_requirement_files_named_by_tox_or_ci_are_installed(tmp_path):
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "test.txt").write_text("pytest-mock\n")
    (tmp_path / "requirements" / "docs.txt").write_text("sphinx\n")
    (tmp_path / "requirements-dev.txt").write_text("a-broken-plugin\n")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("steps:\n  - run: pip install -r requirements/test.txt\n"
                                      "  - run: pip install -r requirements/docs.txt\n")
    found = _plan(tmp_path)
    assert found.args == ["-r", "requirements/test.txt"]  # the pointed-at file, not the usual name
    assert "CI" in found.reasons[0]


SCHEDULE_TOX = """[testenv]
deps =
    pytest
    pytest-cov
    pytz: pytz
commands = py.test test_schedule.py schedule --cov schedule

[testenv:docs]
deps = -rrequirements-dev.txt

[testenv:format]
deps = -rrequirements-dev.txt

[testenv:integration]
deps = -r requirements/integration.txt
"""


def test_a_file_only_tox_s_other_environments_install_is_not_taken_for_test_requirements(tmp_path):
    """dbader/schedule's shape: requirements-dev.txt (docs and formatting) brought pytest-flake8,
    which stops current pytest; its [testenv] says what the tests need."""
    (tmp_path / "tox.ini").write_text(SCHEDULE_TOX)
    (tmp_path / "requirements-dev.txt").write_text("pytest-flake8\nsphinx\n")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "integration.txt").write_text("requests\n")
    found = _plan(tmp_path)
    assert found.args == ["pytest", "pytest-cov", "-r", "requirements/integration.txt"], found.reasons


@pytest.mark.parametrize("install, args", [
    (["none"], []),
    (["--group", "coverage"], ["pytest-cov"]),
    ([".[test]", "-r", "extra.txt"], [".[test]", "-r", "extra.txt"]),
])
def test_the_install_input_replaces_the_guess(tmp_path, install, args):
    shutil.copytree(SHAPES / "pep735", tmp_path / "p")
    (tmp_path / "p" / "extra.txt").write_text("six\n")
    (tmp_path / "p" / "requirements-dev.txt").write_text("not-installed-when-install-is-given\n")
    assert _plan(tmp_path / "p", install).args == args


def test_an_install_input_naming_what_is_not_there_is_refused(tmp_path):
    shutil.copytree(SHAPES / "pep735", tmp_path / "p")
    for install, words in [(["--group", "docs"], "--group docs"), (["-r", "nope.txt"], "-r nope.txt")]:
        with pytest.raises(declared.DeclarationError, match=words):
            _plan(tmp_path / "p", install)


@pytest.mark.parametrize("value, error", [
    ("--index-url http://x", "--index-url is not supported"),
    ("none .[test]", "none cannot be combined"),
    ("--group", "needs a value"),
])
def test_bad_install_values_are_configuration_errors(tmp_path, value, error):
    from ssm_action import config
    raw = config.raw_inputs({}, {"mode": "gates", "working-directory": str(tmp_path), "install": value})
    cfg, errors = config.parse(raw, env={})
    assert cfg is None and [e.input for e in errors] == ["install"] and error in errors[0].message


def test_the_cache_key_covers_every_deciding_file_and_the_install_input(tmp_path):
    project = tmp_path / "p"
    shutil.copytree(SHAPES / "setup-cfg", project)

    def key(**inputs):
        return projectenv.cache_key(projectenv.find_requirements(gates_config(project, **inputs)))
    keys = [key()]
    (project / "sc_pkg" / "__init__.py").write_text("VALUE = 2\n")  # code, not requirements
    assert key() == keys[0]
    edits = [("setup.cfg", lambda t: t.replace("    six\n", "    six\n    bottle\n")),
             ("pyproject.toml", lambda t: t.replace("setuptools>=61", "setuptools>=62")),
             ("uv.lock", lambda t: 'version = 1\n[[package]]\nname = "six"\nversion = "1.15.0"\n'),
             ("requirements-dev.txt", lambda t: "-r nested.txt\n"), ("nested.txt", lambda t: "pytest-mock==3.14.0\n")]
    for name, edit in edits:
        path = project / name
        path.write_text(edit(path.read_text() if path.exists() else ""))
        keys.append(key())
    keys.append(key(install=".[testing]"))
    assert len(set(keys)) == len(keys)


def test_poetry_ranges_become_pep440_specifiers():
    assert [poetry.version_specifier(c) for c in ("^1.2.3", "^0.2", "~1.2", "1.4", "*", ">=1 <2")] == [
        ">=1.2.3,<2", ">=0.2,<0.3", ">=1.2,<1.3", "==1.4", "", ">=1,<2"]


@pytest.mark.parametrize("shape, pytest_args, cov", [
    ("tox-cov", (), []),  # the project's own addopts decide
    ("coveragerc", (), ["--cov"]),  # coverage's source setting decides
    ("src-layout", (), ["--cov=sl_pkg"]),  # the project's package, not its tests
    ("setup-py", ("--cov=sp_pkg", "--cov-branch"), []),  # pytest-args decide
    ("setup-py", ("--cov-branch",), ["--cov=sp_pkg"]),
])
def test_coverage_measures_what_the_project_measures(shape, pytest_args, cov, tmp_path):
    assert covscope.scope(SHAPES / shape, pytest_args, tmp_path)[0] == cov


def test_coverage_set_in_tox_commands_or_by_covdefaults_is_followed(tmp_path):
    (tmp_path / "tox.ini").write_text("[testenv]\ncommands =\n    pytest \\\n      --cov app --cov=tests \\\n"
                                      "      --cov-report term {posargs}\n")
    expected = (["--cov=app", "--cov=tests"], "--cov in tox.ini's [testenv] commands")
    assert covscope.scope(tmp_path, (), tmp_path / "cache") == expected
    (tmp_path / "tox.ini").unlink()
    (tmp_path / "setup.cfg").write_text("[coverage:run]\nplugins = covdefaults\n")  # it sets the source
    assert covscope.scope(tmp_path, (), tmp_path / "cache")[0] == ["--cov"]


def test_a_lock_with_one_version_per_python_keeps_the_markers(tmp_path):
    (tmp_path / "poetry.lock").write_text(
        '[[package]]\nname = "filelock"\nversion = "3.19.1"\nmarkers = "python_version == \\"3.9\\""\n\n'
        '[[package]]\nname = "filelock"\nversion = "3.20.3"\nmarkers = "python_version >= \\"3.10\\""\n\n'
        '[[package]]\nname = "six"\nversion = "1.15.0"\n')
    assert _plan(tmp_path).pins == ['filelock==3.19.1 ; python_version == "3.9"',
                                    'filelock==3.20.3 ; python_version >= "3.10"', "six==1.15.0"]


def test_the_threshold_is_judged_on_the_figure_shown():
    assert judge_coverage(99.8, 99.8, "1 passed").state == "passed"  # 99.75 measured shows and counts as 99.8
    failed = judge_coverage(99.9, 99.8, "1 passed")
    assert (failed.state, failed.message) == ("failed", "coverage 99.8% is below the coverage-threshold of 99.9%")
