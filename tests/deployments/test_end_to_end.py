"""The action as a process, as the runner runs it: file commands, signals and the post-entrypoint.

The transport is a stand-in (tests/deployments/fake_entrypoint.py); GitHub is the fake
over HTTP, and S3 is moto's.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import boto3
import pytest

from tests.conftest import ROOT
from tests.deployments.stand_ins import BASE_INPUTS, TOKEN
from tests.runner_files import annotations, read_file_commands

KILLED = "The deploy step ended without a final status (killed or timed out)"


@pytest.fixture
def step_env(runner_files, github):
    """The environment of the action's step: the runner's variables and the inputs."""
    env = dict(runner_files.env, GITHUB_API_URL=github.url, PYTHONPATH=str(ROOT))
    env.update({f"INPUT_{k.upper()}": v for k, v in BASE_INPUTS.items()})
    return env


def start(env: dict[str, str], how: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.deployments.fake_entrypoint"], cwd=ROOT,
                            env=dict(env, FAKE_OUTCOME=how), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def post_step(runner_files, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The post-entrypoint in a new process, with the saved state as the runner passes it."""
    states = {f"STATE_{name}": value for name, value in runner_files.states().items()}
    return subprocess.run([sys.executable, str(ROOT / "post_entrypoint.py")], env=dict(env, **states),
                          capture_output=True, text=True, timeout=60, cwd=runner_files.env["GITHUB_WORKSPACE"])


def test_success_with_the_audit_in_s3(step_env, runner_files, github, aws):
    boto3.client("s3").create_bucket(Bucket="audit-bucket")
    step_env.update(aws, **{"INPUT_S3-BUCKET": "audit-bucket"})
    done = start(step_env, "ok")
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0, out + err
    outputs = runner_files.outputs()
    assert (outputs["result"], outputs["deployment-id"]) == ("success", "1")
    assert github.states(1) == ["in_progress", "success"]
    [key] = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="audit-bucket")["Contents"]]
    stored = boto3.client("s3").get_object(Bucket="audit-bucket", Key=key)["Body"].read().decode()
    assert json.loads(stored) == json.loads(outputs["audit-json"])
    log = "\n".join(line for line in out.splitlines() if not line.startswith("::add-mask"))
    assert TOKEN not in stored + log + err + runner_files.summary.read_text()
    assert post_step(runner_files, step_env).returncode == 0
    assert github.states(1) == ["in_progress", "success"]  # nothing left for the post step


def test_sigterm_during_the_wait_ends_the_deployment_error(step_env, runner_files, github):
    process = start(step_env, "wait")
    wait_for(lambda: github.states(1) == ["in_progress"])
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1, out + err
    assert github.states(1) == ["in_progress", "error"]
    description = github.calls("status")[-1].body["description"]
    assert description.startswith("Cancelled (signal 15: the workflow was cancelled) before the deploy finished")
    assert "Stopped: signal 15: the workflow was cancelled." in annotations(out)
    assert json.loads(runner_files.outputs()["audit-json"])["result"] == "cancelled"
    assert runner_files.states()["deployment_id"] == ""


def test_the_post_entrypoint_finalises_a_deployment_left_in_progress(step_env, runner_files, github):
    process = start(step_env, "wait")
    wait_for(lambda: github.states(1) == ["in_progress"])
    process.kill()  # no chance to clean up, as when the runner's kill timeout expires
    process.communicate(timeout=30)
    assert runner_files.states() == {"deployment_id": "1"}
    done = post_step(runner_files, step_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert github.states(1) == ["in_progress", "error"]
    assert github.calls("status")[-1].body == {
        "state": "error", "description": KILLED, "log_url": "https://github.com/octo-org/octo-app/actions/runs/4242"}
    assert "GitHub deployment 1 was left in_progress; set it to error." in done.stdout


def test_the_post_entrypoint_posts_the_final_status_the_main_step_could_not(step_env, runner_files, github):
    number = github.add_deployment("0" * 40, "production", "in_progress")
    runner_files.state.write_text(f"deployment_id={number}\ndeployment_final="
                                  + json.dumps({"state": "failure", "description": "1/3 target(s) failed"}) + "\n")
    step_env["INPUT_ENVIRONMENT-URL"] = "https://web.example.com"
    assert post_step(runner_files, step_env).returncode == 0
    assert github.states(number) == ["in_progress", "failure"]
    assert github.calls("status")[-1].body == {
        "state": "failure", "description": "1/3 target(s) failed", "environment_url": "https://web.example.com",
        "log_url": "https://github.com/octo-org/octo-app/actions/runs/4242"}


def test_the_post_entrypoint_leaves_a_finished_deployment_alone(step_env, runner_files, github):
    number = github.add_deployment("0" * 40, "production", "success")
    runner_files.state.write_text(f"deployment_id={number}\n")
    assert post_step(runner_files, step_env).returncode == 0
    assert github.states(number) == ["success"] and not github.calls("status")[1:]


def test_the_post_entrypoint_cannot_fail_the_job(step_env, runner_files):
    runner_files.state.write_text("deployment_id=1\n")
    step_env["GITHUB_API_URL"] = "http://127.0.0.1:9"
    done = post_step(runner_files, step_env)
    assert done.returncode == 0
    [warning] = annotations(done.stdout, "warning")
    assert warning.startswith("Could not finalise GitHub deployment 1; it may still show in progress: "
                              "Could not reach GitHub at http://127.0.0.1:9")


def test_no_token_deploys_with_a_notice(step_env, runner_files, github):
    step_env["INPUT_GITHUB-TOKEN"] = ""
    done = start(step_env, "ok")
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0, out + err
    assert annotations(out, "notice") == [
        "No GitHub deployment is recorded: github-token is empty. The deploy goes ahead."]
    assert github.requests == [] and "deployment-id" not in read_file_commands(runner_files.output)
