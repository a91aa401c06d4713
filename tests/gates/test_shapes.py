"""Each shape of project (how it declares its dependencies, its test command and its
coverage): the tests gate gives the same counts and coverage (to 0.1) as the project's own
command run directly, the way its own CI runs it (pip, uv sync, poetry, tox, hatch,
manage.py test, unittest, a subfolder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from unittest import mock

import pytest

from ssm_action.gates import testresults, tools
from tests.gates.conftest import SHAPES, by_name, run_gates

REPORT = "--cov-report=json:{json}"


@dataclass(frozen=True)
class Direct:
    """How the project's own CI runs its tests: setup commands, then the test command.
    {python} is a fresh venv's Python, {venv} its folder, {json} the coverage report."""

    setup: tuple[tuple[str, ...], ...]
    test: tuple[str, ...]
    cwd: str = ""  # where the test command runs, in the project
    after: tuple[tuple[str, ...], ...] = ()  # e.g. `coverage json` after `coverage run`


WRITE_RC = "open('{tmp}/rc', 'w').write('[run]\\nomit =\\n  */migrations/*\\n  */tests/*\\n')"
PIP = ("{python}", "-m", "pip", "install", "-q")
PYTEST = ("{python}", "-m", "pytest", "-p", "no:cacheprovider")
SHAPE_CASES = {
    # shape: (how its CI runs, the counts both must give)
    "setup-py": (Direct(((*PIP, "-e", ".[test]", "pytest", "pytest-cov"),), (*PYTEST, "--cov=sp_pkg", REPORT)),
                 {"passed": 2}),
    "setup-cfg": (Direct(((*PIP, "-e", ".[testing]", "pytest", "pytest-cov"),), (*PYTEST, "--cov=sc_pkg", REPORT)),
                  {"passed": 2, "failed": 1}),
    "poetry": (Direct((("{bin}/poetry", "install", "--with", "test", "--no-interaction"),),
                      (*PYTEST, "--cov=po_pkg", REPORT)), {"passed": 1}),
    "pep735": (Direct((("{uv}", "sync", "--group", "test"),), (*PYTEST, "--cov=pg_pkg", REPORT)), {"passed": 3}),
    "hatch-extras": (Direct(((*PIP, "-e", ".[testing]"),), (*PYTEST, "--cov=hx_pkg", REPORT)), {"passed": 1}),
    "tox-cov": (Direct((), ("{bin}/tox", "-q", "-e", "py", "--", REPORT)), {"passed": 1}),
    "coveragerc": (Direct(((*PIP, "-r", "requirements.txt", "pytest", "pytest-cov"),), (*PYTEST, "--cov", REPORT)),
                   {"passed": 1}),
    "src-layout": (Direct(((*PIP, "-e", ".[test]"),), (*PYTEST, "--cov=sl_pkg", REPORT)), {"passed": 1}),
    "uv-lock": (Direct((("{uv}", "sync", "--frozen"),
                        ("{uv}", "pip", "install", "--python", "{python}", "pytest", "pytest-cov")),
                       (*PYTEST, "--cov=ul_pkg", REPORT)), {"passed": 1}),
    "ruff-project": (Direct(((*PIP, "-e", ".[dev]"),), (*PYTEST, "--cov=rf_pkg", REPORT)), {"passed": 1}),
    # how the tests run, found from the project
    "django-test": (Direct(((*PIP, "-r", "requirements.txt"),),
                           ("{python}", "-m", "coverage", "run", "--source=notes,site_cfg",
                            "--omit=*/migrations/*,*/tests.py", "manage.py", "test"),
                           after=(("{python}", "-m", "coverage", "json", "-o", "{json}"),)),
                    {"passed": 3, "skipped": 1}),
    "django-pytest": (Direct(((*PIP, "-r", "requirements-dev.txt"), ("{python}", "-c", WRITE_RC)),
                             (*PYTEST, "--ds=config.settings", "--cov=shop", "--cov=config", "--cov-config={tmp}/rc",
                              REPORT)), {"passed": 2}),
    "hatch-scripts": (Direct((), ("{bin}/hatch", "run", "test:cov", REPORT)), {"passed": 2}),
    "unittest-pattern": (Direct(((*PIP, "-e", ".", "coverage"),),
                                ("{python}", "-m", "coverage", "run", "--source=up_pkg", "--omit", "up_pkg/tests/*",
                                 "-m", "unittest", "discover", "-p", "*tests.py"),
                                after=(("{python}", "-m", "coverage", "json", "-o", "{json}"),)),
                         {"passed": 3, "errors": 1, "skipped": 1}),
    "subfolder-app": (Direct((("{uv}", "sync", "--group", "dev"),),
                             ("{python}", "-m", "pytest", "tests", "--cov=app", REPORT), cwd="svc"), {"passed": 1}),
    "toplevel-tests": (Direct(((*PIP, "-r", "requirements.txt", "-r", "requirements-dev.txt"),),
                              (*PYTEST, "tests.py", "--cov=app", "--cov=helpers", REPORT)), {"passed": 3}),
}


def counts(output: str) -> dict[str, int]:
    """The run's counts (pytest's last line, or unittest's) as numbers."""
    found = testresults.from_pytest(output) or testresults.from_unittest(output)
    assert found is not None, output
    return {kind: n for kind, n in vars(found).items() if n}


def run_directly(project: Path, direct: Direct, bin_dir: Path, tmp_path: Path,
                 **variables: str) -> tuple[dict[str, int], float]:
    venv, report = tmp_path / "direct-venv", tmp_path / "direct-coverage.json"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    values = {"python": str(venv / "bin" / "python"), "venv": str(venv), "json": str(report),
              "uv": tools.uv() or "uv", "bin": str(bin_dir), "tmp": str(tmp_path)}
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(VIRTUAL_ENV=str(venv), UV_PROJECT_ENVIRONMENT=str(venv), PATH=f"{venv / 'bin'}:{env['PATH']}",
               POETRY_VIRTUALENVS_CREATE="false", PIP_DISABLE_PIP_VERSION_CHECK="1",
               HATCH_DATA_DIR=str(tmp_path / "hatch-data"), HATCH_CACHE_DIR=str(tmp_path / "hatch-cache"),
               COVERAGE_FILE=str(tmp_path / ".coverage"), **variables)

    def run(step: tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([part.format(**values) for part in step], cwd=cwd, env=env, text=True,
                              capture_output=True, timeout=600)

    for step in direct.setup:
        done = run(step, project)
        assert done.returncode == 0, done.stdout + done.stderr
    tested = run(direct.test, project / direct.cwd)
    for step in direct.after:
        done = run(step, project / direct.cwd)
        assert done.returncode == 0, done.stdout + done.stderr
    coverage = json.loads(report.read_text())["totals"]["percent_covered"]
    return counts(tested.stdout + tested.stderr), round(coverage, 1)


@pytest.mark.parametrize("shape", sorted(SHAPE_CASES))
def test_the_tests_gate_agrees_with_the_projects_own_run(shape, copy_project, direct_tools, tmp_path):
    direct, expected = SHAPE_CASES[shape]
    gated = copy_project(SHAPES / shape, f"{shape}-gated")
    result = by_name(run_gates(gated, gates="tests"))["tests"]
    assert counts(result.log) == expected, (result.outcome.message, result.log)
    direct_counts, direct_coverage = run_directly(copy_project(SHAPES / shape, f"{shape}-direct"), direct,
                                                  direct_tools, tmp_path)
    assert direct_counts == expected
    assert result.outcome.coverage == direct_coverage, result.log
    failing = expected.get("failed") or expected.get("errors")
    assert result.state == ("failed" if failing else "passed"), result.outcome.message
    assert testresults.Counts(**expected).words() in result.outcome.message  # pytest's words, whatever ran them


def test_a_test_needing_a_withheld_variable_names_it_and_pass_env(copy_project, direct_tools, tmp_path):
    """SERVICE_TOKEN looks secret: the tests do not see it, and the failure says which input gives it."""
    project = copy_project(SHAPES / "withheld-var")
    with mock.patch.dict(os.environ, {"SERVICE_TOKEN": "fixture-value"}):
        withheld = by_name(run_gates(project, gates="tests"))["tests"]
        passed = by_name(run_gates(project, gates="tests", pass_env="SERVICE_TOKEN"))["tests"]
    assert withheld.state == "failed"
    assert "SERVICE_TOKEN" in withheld.outcome.message and "pass-env" in withheld.outcome.message
    assert "fixture-value" not in withheld.log + withheld.outcome.message
    assert passed.state == "passed", passed.outcome.message
    direct = Direct(((*PIP, "-r", "requirements-dev.txt"),), (*PYTEST, "--cov=client", REPORT))
    direct_counts, direct_coverage = run_directly(copy_project(SHAPES / "withheld-var", "withheld-direct"), direct,
                                                  direct_tools, tmp_path, SERVICE_TOKEN="fixture-value")
    assert counts(passed.log) == direct_counts == {"passed": 2}
    assert passed.outcome.coverage == direct_coverage
