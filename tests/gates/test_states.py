"""Each gate passes on the sample app and fails on the fixture planted for it, through the real tool."""

from __future__ import annotations

import pytest

from ssm_action.config import GATE_NAMES
from ssm_action.gates.model import FAILED, HIGH, PASSED, SKIPPED
from tests.gates.conftest import FIXTURES, by_name, run_gates

PASSING = [name for name in GATE_NAMES if name not in ("safety", "ruff")]  # the sample app has no ruff config


@pytest.mark.parametrize("gate", PASSING)
def test_gate_passes_on_the_sample_app(sample_run, gate):
    result = by_name(sample_run)[gate]
    assert result.state == PASSED, (result.outcome.message, result.log)


def test_safety_without_a_key_is_skipped_with_the_reason(sample_run):
    outcome = by_name(sample_run)["safety"].outcome
    assert outcome.state == SKIPPED
    assert "safety-api-key" in outcome.message


def test_sample_app_reports_its_coverage(sample_run):
    coverage = by_name(sample_run)["tests"].outcome.coverage
    assert coverage is not None and 90 <= coverage <= 100


@pytest.mark.parametrize("gate", [name for name in GATE_NAMES if name not in ("safety", "deps")])
def test_gate_fails_on_its_planted_problem(bad_run, gate):
    result = by_name(bad_run)[gate]
    assert result.state == FAILED, (result.outcome.message, result.log)
    assert result.outcome.findings


def _codes(bad_run, gate):
    return {f.code for f in by_name(bad_run)[gate].outcome.findings}


def test_findings_name_the_planted_problems(bad_run):
    assert {"F401", "E302"} <= _codes(bad_run, "flake8")
    assert "B602" in _codes(bad_run, "bandit")
    assert _codes(bad_run, "ruff") == {"F401"}
    assert "W0611 unused-import" in _codes(bad_run, "pylint")
    assert _codes(bad_run, "tests") == {"tests.test_app.test_planted_failure"}
    assert _codes(bad_run, "pip-audit") == {"bottle 0.12.25"}
    assert _codes(bad_run, "smoke") == {"broken"}
    assert _codes(bad_run, "env") == {"BAD_APP_UNSET_VARIABLE"}


def test_findings_carry_file_line_and_severity(bad_run):
    b602 = next(f for f in by_name(bad_run)["bandit"].outcome.findings if f.code == "B602")
    assert (b602.path, b602.line, b602.severity) == ("app.py", 8, HIGH)
    failure = by_name(bad_run)["tests"].outcome.findings[0]
    assert (failure.path, failure.line) == ("tests/test_app.py", 8)
    assert "assert 4 == 5" in failure.message
    vuln = by_name(bad_run)["pip-audit"].outcome.findings[0]
    assert "PLANTED-2026-0001" in vuln.message and "0.13.0" in vuln.message
    assert "planted import failure" in by_name(bad_run)["smoke"].outcome.findings[0].message


def test_the_smoke_gate_imports_each_module_in_a_fresh_interpreter(bad_run):
    outcome = by_name(bad_run)["smoke"].outcome
    assert outcome.message == "1 of 2 module(s) failed to import"


def test_coverage_below_the_threshold_fails_the_tests_gate(copy_project):
    project = copy_project(FIXTURES / "low-coverage")
    enforced = by_name(run_gates(project, gates="tests", coverage_threshold="80"))["tests"].outcome
    assert enforced.state == FAILED
    shown = f"coverage {enforced.coverage:.1f}%"
    assert enforced.message.startswith(f"{shown} is below the coverage-threshold of 80% (ran ")
    assert enforced.coverage < 80
    reported = by_name(run_gates(project, gates="tests", coverage_threshold="0"))["tests"].outcome
    assert (reported.state, reported.coverage) == (PASSED, enforced.coverage)


def test_a_coverage_limit_set_in_pytest_args_fails_with_its_own_reason(copy_project):
    """pytest exits 1 with no failing test when pytest-cov's fail-under trips: say so, not "0 failed"."""
    project = copy_project(FIXTURES / "low-coverage")
    outcome = by_name(run_gates(project, gates="tests", pytest_args="--cov-fail-under=99"))["tests"].outcome
    assert outcome.state == FAILED
    assert outcome.message.startswith("pytest failed with no failing test: FAIL Required test coverage of 99%")
