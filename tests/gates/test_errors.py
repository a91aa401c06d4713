"""A gate that could not do its job is an error, never a pass: missing or crashing
tools, an unreachable vulnerability service, a gate past its timeout."""

from __future__ import annotations

import dataclasses
import os
import re
import time

import pytest

from ssm_action.gates import schedule
from ssm_action.gates.model import ERROR, FAILED, PASSED
from tests.gates.conftest import FIXTURES, by_name, closed_port_url, gates_config, run_gates


@pytest.mark.parametrize("gate", ["flake8", "bandit", "pylint", "pip-audit"])
def test_a_missing_tool_is_an_error(sample_project, sample_run, monkeypatch, tmp_path, gate):
    """(sample_run has built the environment, with uv, which is missing here too.)"""
    monkeypatch.setenv("SSM_ACTION_TOOLS", str(tmp_path))  # an empty bin folder
    result = by_name(run_gates(sample_project, gates=gate))[gate]
    assert result.state == ERROR
    assert "is not installed" in result.outcome.message


def test_a_crashing_tool_is_an_error(tmp_path):
    (tmp_path / "app.py").write_text("VALUE = 1\n")
    (tmp_path / "setup.cfg").write_text("[flake8]\nmax-line-length = not-a-number\n")
    outcome = by_name(run_gates(tmp_path, gates="flake8"))["flake8"].outcome
    assert outcome.state == ERROR
    assert "flake8 wrote no report" in outcome.message and "ValueError" in outcome.message


def test_pip_audit_with_an_unreachable_service_is_an_error(sample_project):
    args = f"-s osv --osv-url {closed_port_url()}"
    outcome = by_name(run_gates(sample_project, gates="pip-audit", pip_audit_args=args))["pip-audit"].outcome
    assert outcome.state == ERROR
    assert "ConnectionError" in outcome.message


def test_pip_audit_behind_a_dead_proxy_is_an_error(sample_project, monkeypatch):
    run_gates(sample_project, gates="deps")  # the environment, built while the network works
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, closed_port_url().rsplit("/", 2)[0])
    outcome = by_name(run_gates(sample_project, gates="pip-audit"))["pip-audit"].outcome
    assert outcome.state == ERROR
    assert "ProxyError" in outcome.message


def test_pip_audit_that_could_not_audit_is_an_error(sample_project):
    """pip-audit's default service answers 404 from our machines: pip-audit then says
    'No known vulnerabilities found' and exits 0, having audited nothing."""
    result = by_name(run_gates(sample_project, gates="pip-audit"))["pip-audit"]
    if "could not be audited" not in result.log + str(result.outcome.message) and result.state == PASSED:
        pytest.skip("PyPI's vulnerability service is reachable from this machine")
    assert result.state == ERROR
    assert re.match(r"could not audit (\d+) of \1 packages \(bottle, coverage, ", result.outcome.message)


def test_safety_with_a_key_runs_a_ci_scan_and_fails_as_an_error_without_its_service(sample_project, monkeypatch):
    """Safety's service cannot be reached here: what can be checked is the command and the error state."""
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, closed_port_url().rsplit("/", 2)[0])
    result = by_name(run_gates(sample_project, gates="safety", safety_api_key="sk-test-1234"))["safety"]
    assert result.state == ERROR
    assert "safety could not scan" in result.outcome.message
    assert "safety --stage cicd --disable-optional-telemetry scan --target . --output json" in result.log
    assert "sk-test-1234" not in result.log  # given in the environment, not on the command line


def test_a_gate_past_its_timeout_is_stopped_as_an_error(tmp_path):
    pid_file = tmp_path / "pid"
    (tmp_path / "tests").mkdir()
    test = tmp_path / "tests" / "test_slow.py"
    test.write_text("def test_quick():\n    pass\n")
    schedule.run_gates(gates_config(tmp_path, gates="tests"))  # the environment built: the slow test starts at once
    test.write_text(
        "import os, pathlib, time\n\n\ndef test_slow():\n"
        f"    pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))\n    time.sleep(120)\n")
    cfg = dataclasses.replace(gates_config(tmp_path, gates="tests"), gate_timeout=10)
    started = time.monotonic()
    outcome = by_name(schedule.run_gates(cfg))["tests"].outcome
    assert outcome.state == ERROR
    assert "gate-timeout of 10 s" in outcome.message
    assert time.monotonic() - started < 60
    with pytest.raises(ProcessLookupError):  # the whole process group was killed
        os.kill(int(pid_file.read_text()), 0)


def test_conflicting_requirements_fail_deps_and_make_the_environment_gates_errors(copy_project):
    results = by_name(run_gates(copy_project(FIXTURES / "conflict"), gates="tests, flake8, deps"))
    assert results["deps"].state == FAILED
    assert "pluggy" in results["deps"].outcome.findings[0].message
    assert results["tests"].state == ERROR
    assert "could not be built" in results["tests"].outcome.message
    assert results["flake8"].state == PASSED  # gates that need no environment still run
