"""When pytest or the environment build cannot run, the gate names the first real cause
and the input that fixes it; results show as each gate ends, with heartbeats between."""

from __future__ import annotations

import json
import subprocess
from unittest import mock

from ssm_action.gates import schedule, tools
from ssm_action.gates.model import ERROR, FAILED
from tests.gates.conftest import SHAPES, by_name, gates_config, run_gates


def test_a_conftest_import_error_names_the_module_and_the_fix(copy_project):
    project = copy_project(SHAPES / "broken-plugin")
    outcome = by_name(run_gates(project, gates="tests"))["tests"].outcome
    assert outcome.state == ERROR
    assert outcome.message.startswith("pytest could not run (exit code 4): "
                                      "ModuleNotFoundError: No module named 'missing_test_helper'. Fix: ")
    assert "install input" in outcome.message


def test_collection_errors_carry_the_cause_from_the_junit_text(copy_project):
    project = copy_project(SHAPES / "src-layout", "collection-error")
    (project / "tests" / "test_more.py").write_text("import not_declared_anywhere\n\n\ndef test_x():\n    pass\n")
    outcome = by_name(run_gates(project, gates="tests"))["tests"].outcome
    assert outcome.state == ERROR and "(exit code 2): ModuleNotFoundError: No module named 'not_declared_anywhere'" \
        in outcome.message
    assert [f.message for f in outcome.findings] == ["ModuleNotFoundError: No module named 'not_declared_anywhere'"]


def test_a_cause_with_a_long_dotted_name_is_never_cut_off(copy_project):
    """Django's AppRegistryNotReady is no ...Error, and pytest's short summary cuts lines to the terminal."""
    project = copy_project(SHAPES / "src-layout", "long-cause")
    (project / "tests" / "test_django_like.py").write_text(
        "class AppRegistryNotReady(Exception):\n    pass\n\n\n"
        "AppRegistryNotReady.__module__ = 'django.core.exceptions'\n"
        "raise AppRegistryNotReady(\"Apps aren't loaded yet. \" + 'x' * 80)\n")
    outcome = by_name(run_gates(project, gates="tests"))["tests"].outcome
    assert outcome.state == ERROR
    assert "django.core.exceptions.AppRegistryNotReady: Apps aren't loaded yet. " + "x" * 80 in outcome.message
    assert outcome.coverage is None  # no test ran: no figure


def test_a_usage_error_names_pytests_words(copy_project):
    project = copy_project(SHAPES / "src-layout", "usage-error")
    outcome = by_name(run_gates(project, gates="tests", pytest_args="--no-such-option"))["tests"].outcome
    assert outcome.state == ERROR
    assert "(exit code 4): unrecognized arguments: --no-such-option" in outcome.message
    assert "check pytest-args" in outcome.message


def test_an_install_failure_names_the_installers_reason(copy_project):
    project = copy_project(SHAPES / "src-layout", "install-error")
    run = run_gates(project, gates="tests, deps", install="ssm-gates-no-such-package-0b7e")
    results = by_name(run)
    assert results["deps"].state == FAILED  # the resolver refused: the requirements conflict
    message = results["tests"].outcome.message
    assert results["tests"].state == ERROR
    assert message.startswith("the project environment could not be built: uv could not install the project's "
                              "requirements: No solution found when resolving dependencies: Because "
                              "ssm-gates-no-such-package-0b7e was not found"), message


def test_each_result_is_shown_as_its_gate_ends_with_heartbeats_between(copy_project):
    project = copy_project(SHAPES / "src-layout", "slow")
    (project / "tests" / "test_slow.py").write_text("import time\n\n\ndef test_slow():\n    time.sleep(3)\n")
    shown, beats = [], []
    with mock.patch.object(schedule, "HEARTBEAT_SECONDS", 0.5):
        run = schedule.run_gates(gates_config(project, gates="tests, env"), on_result=lambda r: shown.append(r.name),
                                 on_heartbeat=beats.append)
    assert [r.name for r in run.results] == ["tests", "env"] and shown == ["env", "tests"]
    progress = [r.progress for beat in beats for r in beat if r.name == "tests"]
    assert "1 tests done (50%)" in progress, beats


def test_ruff_judges_a_ruff_project_in_flake8s_place_blocking_where_flake8_would(copy_project):
    project = copy_project(SHAPES / "ruff-project")
    results = by_name(run_gates(project, gates="flake8, ruff", blocking_gates="flake8"))
    direct = subprocess.run([tools.path("ruff"), "check", "--no-cache", "--output-format", "json", "."],
                            cwd=project, capture_output=True, text=True)
    assert [(f["code"], f["location"]["row"]) for f in json.loads(direct.stdout)] == [("B006", 8)]
    assert [(f.path, f.code, f.line) for f in results["ruff"].outcome.findings] == [("rf_pkg/__init__.py", "B006", 8)]
    assert results["ruff"].blocking and results["ruff"].outcome.sarif is not None
    assert results["flake8"].state == "skipped" and not results["flake8"].outcome.findings
    assert "the ruff gate judges its style in flake8's place" in results["flake8"].outcome.message


def test_flake8_still_runs_its_defaults_on_a_ruff_project_when_asked_or_alone(copy_project):
    project = copy_project(SHAPES / "ruff-project")
    alone = by_name(run_gates(project, gates="flake8"))["flake8"]
    asked = by_name(run_gates(project, gates="flake8, ruff", flake8_args="--max-line-length=79"))
    for flake8 in (alone, asked["flake8"]):
        assert "E501" in {f.code for f in flake8.outcome.findings}  # flake8's 79, not the project's 120
    assert "the project configures ruff, not flake8: these are flake8's defaults" in alone.outcome.message
    assert not asked["ruff"].blocking  # ruff is only in flake8's place when flake8 does not run


PRE_COMMIT = """repos:
  - repo: https://github.com/pycqa/flake8
    rev: 7.1.1
    hooks:
      - id: flake8
        args: ['--max-line-length', '120']
"""


def test_flake8_runs_with_the_arguments_of_the_projects_pre_commit_hook(copy_project):
    """getsentry/responses' shape: its flake8 settings live in .pre-commit-config.yaml (296 blocking
    findings on flake8's defaults, 0 with its own arguments)."""
    project = copy_project(SHAPES / "ruff-project")
    (project / ".pre-commit-config.yaml").write_text(PRE_COMMIT)
    flake8 = by_name(run_gates(project, gates="flake8, ruff"))["flake8"]  # the hook says the project runs flake8
    assert flake8.state != "skipped" and "E501" not in {f.code for f in flake8.outcome.findings}
    assert "with the project's pre-commit arguments --max-line-length 120" in flake8.outcome.message


RUFF_PRE_COMMIT = """repos:
  - repo: https://github.com/astral-sh/ruff-pre-commit
    rev: {rev}
    hooks:
      - id: ruff-check
"""


def test_ruff_runs_at_the_version_the_projects_pre_commit_pins(copy_project):
    """hynek/structlog pins ruff 0.15.16: 55 findings with the action's newer ruff, 0 with its own."""
    project = copy_project(SHAPES / "ruff-project")
    (project / ".pre-commit-config.yaml").write_text(RUFF_PRE_COMMIT.format(rev="v0.15.16"))
    ruff = by_name(run_gates(project, gates="ruff"))["ruff"]
    assert ruff.outcome.message.endswith("; ruff 0.15.16, as the project's pre-commit config pins it"), ruff.log
    assert "\nruff 0.15.16\n" in ruff.log  # the version that ran says so
    assert [(f.path, f.code) for f in ruff.outcome.findings] == [("rf_pkg/__init__.py", "B006")]

    (project / ".pre-commit-config.yaml").write_text(RUFF_PRE_COMMIT.format(rev="v0.0.999999"))
    ruff = by_name(run_gates(project, gates="ruff"))["ruff"]
    assert "the project's ruff 0.0.999999 could not be fetched, so the action's ran" in ruff.outcome.message
    assert [(f.path, f.code) for f in ruff.outcome.findings] == [("rf_pkg/__init__.py", "B006")]


def test_ruff_reports_but_never_fixes_even_where_the_project_sets_fix(copy_project):
    project = copy_project(SHAPES / "ruff-project")
    config = project / "pyproject.toml"
    config.write_text(config.read_text().replace("[tool.ruff]\n", "[tool.ruff]\nfix = true\n"))
    code = project / "rf_pkg" / "extra.py"
    before = "import os  # F401, which ruff would remove\n\n\ndef one() -> int:\n    return 1\n"
    code.write_text(before)
    results = by_name(run_gates(project, gates="ruff"))
    assert "F401" in {f.code for f in results["ruff"].outcome.findings}
    assert code.read_text() == before
