"""How the tests gate finds the project's way of running its tests (read from its files,
nothing run here), what it installs for a Hatch environment, what coverage leaves out,
and how unittest's and Django's output is counted in pytest's words."""

from __future__ import annotations

import configparser
import textwrap
from pathlib import Path

import pytest

from ssm_action.gates import covscope, declared, testcommand, testresults
from ssm_action.gates.testcommand import DJANGO, PYTEST, UNITTEST
from tests.gates.conftest import SHAPES


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


@pytest.mark.parametrize("given, runner, args, cwd", [
    ("python manage.py test --parallel 1", DJANGO, ("manage.py", "test", "--parallel", "1"), ""),
    ("cd svc && uv run --frozen pytest tests", PYTEST, ("tests",), "svc"),
    ("coverage run -m unittest discover -p '*tests.py'", UNITTEST, ("discover", "-p", "*tests.py"), ""),
    ("poetry run python -m pytest -x", PYTEST, ("-x",), ""),
    ("./run-tests.sh --fast", testcommand.COMMAND, ("./run-tests.sh", "--fast"), ""),
    ("cd api && ./run-tests.sh", testcommand.COMMAND, ("./run-tests.sh",), "api"),
])
def test_the_test_command_input_is_read_without_a_shell(tmp_path, given, runner, args, cwd):
    import shlex
    found = testcommand.choose(tmp_path, tuple(shlex.split(given)))
    assert (found.runner, found.args, found.cwd) == (runner, args, cwd)
    assert found.why.startswith("the test-command input")


def test_a_hatch_script_names_its_environment_and_expands_to_the_test_step():
    found = testcommand.choose(SHAPES / "hatch-scripts", ("hatch", "run", "test:cov", "-x"))
    assert (found.runner, found.args, found.hatch_env) == (
        PYTEST, ("--cov=hs_pkg", "--cov-report=term-missing", "-x"), "test")


def test_a_hatch_environment_installs_its_features_and_dependencies_not_its_templates():
    """test sets template = "test": the default environment's (uninstallable) dependency is not inherited."""
    plan = declared.plan(SHAPES / "hatch-scripts", "requirements.txt", ())
    assert plan.args == ["-e", ".[yaml]", "pytest", "pytest-cov", "six"]
    assert "Hatch environment `test`" in plan.reasons[0]


def test_a_hatch_environment_inherits_from_default(tmp_path):
    _write(tmp_path, {"pyproject.toml": """
        [project]
        name = "x"
        version = "1"
        [tool.hatch.envs.default]
        dependencies = ["coverage"]
        features = ["web"]
        [tool.hatch.envs.tests]
        extra-dependencies = ["pytest"]
        [tool.hatch.envs.tests.scripts]
        unit = "pytest {args:tests}"
        """})
    found = testcommand.choose(tmp_path)
    assert (found.runner, found.args, found.hatch_env) == (PYTEST, ("tests",), "tests")
    assert declared.plan(tmp_path, "requirements.txt", ()).args == ["-e", ".[web]", "coverage", "pytest"]


LEGACY_TOX = '''[tool.tox]
legacy_tox_ini = """
[tox]
envlist = py311
[testenv]
deps =
    pytest
    httpx>=0.27
commands = pytest {posargs:tests} -q
"""
'''


@pytest.mark.parametrize("files, runner, args, why", [
    ({"tox.ini": "[testenv]\ncommands =\n    pip list\n    {envpython} -m pytest {posargs:tests} -q\n"},
     PYTEST, ("tests", "-q"), "tox.ini"),
    ({"pyproject.toml": LEGACY_TOX}, PYTEST, ("tests", "-q"), "pyproject.toml [tool.tox] legacy_tox_ini"),
    ({"noxfile.py": "import nox\n\n@nox.session\ndef tests(session):\n    session.install('.')\n"
                    "    session.run('pytest', '--maxfail=1')\n"}, PYTEST, ("--maxfail=1",), "noxfile"),
    ({"Makefile": "PY ?= python3\nlint:\n\truff check .\ntest:\n\t@$(PY) -m unittest discover -s tests\n"},
     UNITTEST, ("discover", "-s", "tests"), "Makefile"),
    ({".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: pip install -r requirements.txt\n"
                                  "      - run: |\n          tox -e unit\n",
      "tox.ini": "[testenv:unit]\ncommands = pytest -q\n"},
     PYTEST, ("-q",), "CI workflow"),
    ({"manage.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site.settings')\n"},
     DJANGO, ("manage.py", "test"), "Django"),
    ({"tests/test_a.py": "import unittest\n\nclass T(unittest.TestCase):\n    pass\n"},
     UNITTEST, ("discover",), "unittest discovery"),
    ({"tests/test_a.py": "import unittest\n\nclass T(unittest.TestCase):\n    pass\n",
      "requirements-dev.txt": "pytest\n"}, PYTEST, (), "the default"),
])
def test_the_projects_own_declarations_are_read_in_order(tmp_path, files, runner, args, why):
    found = testcommand.choose(_write(tmp_path, files))
    assert (found.runner, found.args) == (runner, args)
    assert why in found.why


def test_tox_in_pyproject_declares_the_deps_like_tox_ini_and_tox_ini_comes_first(tmp_path):
    _write(tmp_path, {"pyproject.toml": LEGACY_TOX})
    found = declared.plan(tmp_path, "requirements.txt", ())
    assert found.args[-2:] == ["pytest", "httpx>=0.27"]
    assert "`pytest`, `httpx>=0.27`: pyproject.toml [tool.tox] legacy_tox_ini [testenv] deps" in found.reasons
    _write(tmp_path, {"tox.ini": "[testenv]\ncommands = python -m unittest discover\n"})
    assert testcommand.choose(tmp_path).why.startswith("tox.ini [testenv] commands")


def test_each_workflow_step_starts_at_the_checkout_in_its_working_directory(tmp_path):
    _write(tmp_path, {".github/workflows/ci.yml": """
        jobs:
          test:
            defaults:
              run:
                working-directory: api
            steps:
              - run: |
                  cd docs
                  make html
              - run: |
                  # the tests
                  python -m pytest -q  # quick
              - run: pytest
                working-directory: web
        """})
    found = testcommand.choose(tmp_path)
    assert (found.runner, found.args, found.cwd) == (PYTEST, ("-q",), "api")


def test_django_takes_its_settings_from_manage_py_and_pytest_django_when_declared(tmp_path):
    _write(tmp_path, {"manage.py": 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")\n',
                      "requirements-dev.txt": "pytest-django==4.9\n"})
    found = testcommand.choose(tmp_path)
    assert (found.runner, found.env) == (PYTEST, (("DJANGO_SETTINGS_MODULE", "config.settings"),))
    (tmp_path / "pytest.ini").write_text("[pytest]\nDJANGO_SETTINGS_MODULE = config.settings.test\n")
    assert testcommand.choose(tmp_path).env == ()  # the variable would override the project's own choice


def test_coverage_leaves_out_tests_migrations_and_build_hooks_unless_configured(tmp_path):
    for name in ("app.py", "tests.py", "test_app.py", "hatch_build.py", "manage.py"):
        (tmp_path / name).write_text("")
    assert covscope.own_code(tmp_path, tmp_path / "cache") == ["app"]
    rc, why = covscope.rcfile(tmp_path, tmp_path)
    omit = configparser.ConfigParser()
    omit.read(rc)
    assert f"{tmp_path}/**/migrations/*" in omit["run"]["omit"] and "without tests" in why
    (tmp_path / "pyproject.toml").write_text('[tool.coverage.run]\nomit = ["x/*"]\n[tool.coverage.report]\n'
                                             'exclude_lines = ["pragma: no cover"]\n')
    assert covscope.rcfile(tmp_path, tmp_path)[0] is None  # the project's own choice
    given, _ = covscope.rcfile(tmp_path, tmp_path, ["pkg/tests/*"])
    merged = configparser.ConfigParser()
    merged.read(given)
    assert merged["run"]["omit"].split() == ["pkg/tests/*"] and "pragma" in merged["report"]["exclude_lines"]


UNITTEST_OUTPUT = """..Fs.E
======================================================================
ERROR: test_b (tests.test_x.T.test_b)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "{root}/tests/test_x.py", line 9, in test_b
    raise django.core.exceptions.ImproperlyConfigured("no DATABASE_URL")
django.core.exceptions.ImproperlyConfigured: no DATABASE_URL

======================================================================
FAIL: test_a (tests.test_x.T.test_a)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "{root}/tests/test_x.py", line 5, in test_a
    self.assertEqual(1, 2)
AssertionError: 1 != 2

----------------------------------------------------------------------
Ran 6 tests in 0.002s

FAILED (failures=1, errors=1, skipped=1)
"""


def test_unittest_and_django_output_is_counted_in_pytests_words(tmp_path):
    output = UNITTEST_OUTPUT.format(root=tmp_path)
    counts = testresults.from_unittest(output)
    assert counts and counts.words() == "3 passed, 1 failed, 1 skipped, 1 error"
    failures = testresults.unittest_failures(output, tmp_path)
    assert [(f.path, f.line, f.code, f.message) for f in failures] == [
        ("tests/test_x.py", 9, "tests.test_x.T.test_b",
         "ERROR: django.core.exceptions.ImproperlyConfigured: no DATABASE_URL"),
        ("tests/test_x.py", 5, "tests.test_x.T.test_a", "AssertionError: 1 != 2")]
    assert testresults.from_unittest("Ran 4 tests in 0.1s\n\nOK (skipped=1)\n").words() == "3 passed, 1 skipped"


@pytest.mark.parametrize("line, words", [
    ("==== 2 passed, 1 failed, 3 errors in 0.12s ====", "2 passed, 1 failed, 3 errors"),
    ("2 passed, 1 skipped in 0.05s", "2 passed, 1 skipped"),  # -q: no rule around it
    ("1 passed, 1 warning in 61.20s (0:01:01)", "1 passed"),
])
def test_pytests_last_line_is_read_with_or_without_its_rule(line, words):
    counts = testresults.from_pytest(f"tests/test_a.py ..\n{line}\n")
    assert counts and counts.words() == words
