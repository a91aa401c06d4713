"""mode: gates inside the action's image, run as the runner runs it: the tools come
from the image (/opt/tools), the project environment from uv and the cache."""

from __future__ import annotations

import json
import os
import shutil

from tests import containers
from tests.gates.conftest import FIXTURES
from tests.runner_files import read_file_commands

EXPECTED = {"tests": "failed", "pip-audit": "error", "safety": "skipped", "bandit": "failed", "flake8": "failed",
            "ruff": "failed", "pylint": "failed", "smoke": "failed", "env": "failed", "deps": "passed"}


def test_gates_run_in_the_image_with_its_tools_and_a_warm_cache(action_image, tmp_path):
    workspace = tmp_path / "workspace"
    shutil.copytree(FIXTURES / "bad-app", workspace)
    inputs = {"mode": "gates", "smoke-imports": "app, broken", "required-env": "BAD_APP_UNSET_VARIABLE"}
    runs = []
    for _ in range(2):
        done, commands = containers.run_action(action_image, workspace, inputs, timeout=900)
        outputs = read_file_commands(commands / "output")
        (commands / "output").write_text("")
        runs.append((done, outputs))
    for done, outputs in runs:
        assert done.returncode == 1, done.stdout + done.stderr
        states = {gate["name"]: gate["state"] for gate in json.loads(outputs["gates-json"])}
        assert states == EXPECTED, done.stdout
        assert "/opt/tools/bin/flake8 " in done.stdout and "/opt/tools/bin/uv pip check" in done.stdout
    cold, warm = runs[0][0].stdout, runs[1][0].stdout
    assert "project environment: built with uv" in cold
    assert "project environment: reused from the cache" in warm
    assert runs[0][1]["cache-key"] == runs[1][1]["cache-key"]
    assert (workspace / ".ssm-action-cache" / "envs" / runs[0][1]["cache-key"]).is_dir()
    assert (workspace / ".ssm-action-sarif" / "bandit.sarif").is_file()
    for folder in (".ssm-action-cache", ".ssm-action-sarif"):
        assert (workspace / folder / ".gitignore").read_text() == "*\n"


PLANTED = {"INPUT_GITHUB-TOKEN": "ghs_planted_token_1", "AWS_SECRET_ACCESS_KEY": "planted-aws-secret-2",
           "ACTIONS_RUNTIME_TOKEN": "planted-runtime-3", "INPUT_SAFETY-API-KEY": "planted-safety-4",
           "INPUT_NOTIFY-WEBHOOK": "https://hooks.example/planted-hook-5"}
RUNNER_UID = 1001  # the GitHub runner's user, who owns the checkout the container gets


def test_the_projects_code_cannot_read_the_actions_secrets_from_proc(action_image, tmp_path):
    """The container runs as root with the secrets in PID 1's environment; the project's
    tests walk /proc and find none, because they run as the checkout's owner."""
    workspace = tmp_path / "workspace"
    shutil.copytree(FIXTURES / "proc-probe", workspace)
    for path in (workspace, *workspace.rglob("*")):
        os.lchown(path, RUNNER_UID, RUNNER_UID)
    inputs = {"mode": "gates", "gates": "tests, smoke", "blocking-gates": "tests, smoke",
              "smoke-imports": "probe_app"}
    done, commands = containers.run_action(action_image, workspace, inputs, env=PLANTED, timeout=900)
    probe = json.loads((workspace / "proc-probe.json").read_text())
    assert probe["uid"] == RUNNER_UID and 1 in probe["parents"], probe
    assert probe["seen"]["1"] == "PermissionError", probe  # the entrypoint, PID 1
    assert not [pid for pid, found in probe["seen"].items() if isinstance(found, list) and found], probe
    states = {gate["name"]: gate["state"] for gate in json.loads(read_file_commands(commands / "output")["gates-json"])}
    assert states == {"tests": "passed", "smoke": "passed"}, done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    cache = workspace / ".ssm-action-cache"
    assert {p.stat().st_uid for p in (cache / "envs").iterdir()} == {RUNNER_UID}  # actions/cache can save it
    assert (cache / "state").stat().st_uid == 0
