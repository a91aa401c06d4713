"""The gates mode as the runner runs it: exit code, outputs, annotations, summary, SARIF."""

from __future__ import annotations

import json
import re
import shutil

from tests.gates.conftest import FIXTURES

ANNOTATION = re.compile(r"^::(error|warning) (.*?)::(.*)$")


def _workspace_with_bad_app(runner_files):
    workspace = runner_files.env["GITHUB_WORKSPACE"]
    target = f"{workspace}/services/bad-app"
    shutil.copytree(FIXTURES / "bad-app", target)
    return target


def _annotations(stdout: str) -> list[tuple[str, dict[str, str], str]]:
    found = []
    for line in stdout.splitlines():
        match = ANNOTATION.match(line)
        if match:
            props = {key: value.replace("%3A", ":").replace("%2C", ",").replace("%25", "%")
                     for key, value in (item.split("=", 1) for item in match.group(2).split(","))}
            found.append((match.group(1), props, match.group(3)))
    return found


def _run(runner_files, **inputs):
    base = {"mode": "gates", "working-directory": "services/bad-app"}
    base.update({name.replace("_", "-"): value for name, value in inputs.items()})
    return runner_files.run(base)


def test_a_failing_blocking_gate_fails_the_step(runner_files):
    _workspace_with_bad_app(runner_files)
    done = _run(runner_files, gates="flake8", blocking_gates="flake8")
    assert done.returncode == 1, done.stdout
    assert runner_files.outputs()["gates-result"] == "failed"
    assert {level for level, _, _ in _annotations(done.stdout)} == {"error"}


def test_a_failing_non_blocking_gate_only_warns(runner_files):
    _workspace_with_bad_app(runner_files)
    done = _run(runner_files, gates="flake8", blocking_gates="tests")
    assert done.returncode == 0, done.stdout
    assert runner_files.outputs()["gates-result"] == "passed"
    assert runner_files.outputs()["result"] == "success"
    assert {level for level, _, _ in _annotations(done.stdout)} == {"warning"}


def test_gates_selects_a_subset_in_canonical_order(runner_files):
    _workspace_with_bad_app(runner_files)
    done = _run(runner_files, gates="env\nflake8")
    gates = json.loads(runner_files.outputs()["gates-json"])
    assert [gate["name"] for gate in gates] == ["flake8", "env"]
    assert gates[1] == {"name": "env", "state": "skipped", "blocking": True, "seconds": gates[1]["seconds"],
                        "findings": 0, "message": "no required-env given"}
    groups = [line for line in done.stdout.splitlines() if line.startswith("::group::")]  # as each ends
    assert len(groups) == 2 and "::group::⏭️ env: skipped (blocking, 0.0 s) - no required-env given" in groups
    assert any(re.fullmatch(r"::group::❌ flake8: failed \(blocking, \d+\.\d s\) - 2 findings", g) for g in groups)


def test_an_unknown_gate_is_a_configuration_error(runner_files):
    done = runner_files.run({"mode": "gates", "gates": "flake8, mypy"})
    assert done.returncode == 1
    assert "gates: got 'mypy'; is not a gate" in done.stdout
    assert "gates-json" not in runner_files.outputs()


def test_findings_become_annotations_summary_rows_and_sarif(runner_files):
    _workspace_with_bad_app(runner_files)
    runner_files.env["APP_TOKEN"] = "hunter2-secret-value"
    done = _run(runner_files, gates="bandit, flake8, env", required_env="APP_TOKEN, APP_MISSING")
    annotations = _annotations(done.stdout)
    # Errors (blocking flake8, env) before warnings (non-blocking bandit); high severity first.
    assert [level for level, _, _ in annotations] == ["error"] * 5 + ["warning"] * 3
    files = {props.get("file") for _, props, _ in annotations} - {None}
    assert files == {"services/bad-app/app.py"}
    bandit = [props["title"] for level, props, _ in annotations if level == "warning"]
    assert bandit == ["bandit failed", "bandit: B602", "bandit: B404"]  # assert (B101) is allowed in tests
    assert "hunter2-secret-value" not in done.stdout + runner_files.summary.read_text()

    summary = runner_files.summary.read_text()
    assert "| ❌ | flake8 | failed | yes |" in summary and "| ⚠️" not in summary
    assert summary.count("<details>") == 3 and "| APP_MISSING | is not set or is empty |" in summary

    sarif_dir = runner_files.outputs()["sarif-file"]
    assert sarif_dir == ".ssm-action-sarif"
    for tool, rule in (("bandit", "B602"), ("flake8", "F401")):
        doc = json.loads((runner_files.summary.parent.parent / "workspace" / sarif_dir / f"{tool}.sarif").read_text())
        results = doc["runs"][0]["results"]
        assert rule in {r["ruleId"] for r in results}
        assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} <= {
            "services/bad-app/app.py", "services/bad-app/tests/test_app.py"}
