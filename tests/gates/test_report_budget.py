"""A project with thousands of findings: the summary stays under GitHub's 1 MiB with the
blocking gates' details first and "N more" per gate; the findings file has every one.
The action's folders never show in git status."""

from __future__ import annotations

import json
import subprocess

from ssm_action import runner
from ssm_action.gates import report
from ssm_action.gates.model import FAILED, PASSED, Finding, GateResult, Outcome
from ssm_action.gates.schedule import GatesRun
from tests.gates.conftest import SHAPES, gates_config, run_gates


def _findings(tool: str, count: int) -> list[Finding]:
    return [Finding(f"pkg/module_{i % 50}.py", i, 1, f"{tool}{i % 7}", f"{tool} says: " + "x" * 300)
            for i in range(count)]


def test_thousands_of_findings_fit_with_blocking_details_first(tmp_path):
    results = [GateResult("bandit", False, Outcome(FAILED, "4000 findings", _findings("B", 4000))),
               GateResult("flake8", True, Outcome(FAILED, "3000 findings", _findings("E", 3000))),
               GateResult("pylint", False, Outcome(FAILED, "9000 findings", _findings("W", 9000))),
               GateResult("env", True, Outcome(PASSED, "1 variable(s) set"))]
    run = GatesRun(results, None, "", 1.0)
    cfg = gates_config(tmp_path)
    runner.reset()
    try:
        assert not report.publish(cfg, run)
        text = report.summary(cfg, run)
        outputs = runner.outputs()
    finally:
        runner.reset()
    assert len(text.encode()) < report.SUMMARY_BUDGET < 1024 * 1024
    assert text.index("<summary>❌ flake8") < text.index("bandit:") and text.index("<summary>❌ flake8") < text.index(
        "pylint:")
    assert f"... and {3000 - report.ROWS_PER_GATE} more" in text
    doc = json.loads((tmp_path / outputs["findings-file"]).read_text())
    assert {gate["name"]: len(gate["findings"]) for gate in doc["gates"]} == {
        "bandit": 4000, "flake8": 3000, "pylint": 9000, "env": 0}


def test_the_cache_and_sarif_folders_never_show_in_git_status(copy_project):
    project = copy_project(SHAPES / "ruff-project", "git-status")
    (project / ".gitignore").write_text("__pycache__/\n*.egg-info/\n")  # what projects usually ignore
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=project, check=True)
    run_gates(project, gates="tests, ruff")
    assert (project / ".ssm-action-sarif" / "ruff.sarif").is_file() and (project / ".ssm-action-cache").is_dir()
    timings = json.loads((project / ".ssm-action-cache" / "gate-seconds.json").read_text())
    assert set(timings) == {"tests", "ruff"}  # the next run starts the longest first
    status = subprocess.run(["git", "status", "--porcelain", "--ignored=no"], cwd=project, capture_output=True,
                            text=True, check=True).stdout
    assert status == ""
