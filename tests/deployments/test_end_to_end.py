"""End to end, as the runner runs it: entrypoint.py in a new process with the inputs as
INPUT_* and the file commands, transport local (the real deploy agent on this machine:
git, a venv, a real app and its health check), GitHub the fake over HTTP, S3 moto's;
then the post-entrypoint in another process with the saved state as STATE_*."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from ssm_action import payload
from tests.agent.agent_fixtures import Server, build_wheel, kill_processes_under, uv_folder
from tests.conftest import ROOT
from tests.deployments.stand_ins import TOKEN
from tests.runner_files import annotations

RUN_URL = "https://github.com/octo-org/octo-app/actions/runs/4242"
KILLED = "The deploy step ended without a final status (killed or timed out)"
SLOW_HOOK = {"deploy/hooks/pre-stop.py": "import time\ntime.sleep(60)\n"}


@pytest.fixture
def server(tmp_path: Path):
    srv = Server(tmp_path / "srv", build_wheel(tmp_path), uv_folder(tmp_path / "uv"))
    try:
        yield srv
    finally:
        kill_processes_under(tmp_path)


@pytest.fixture
def step(runner_files, github, server, aws):
    """Start the action's step for a commit: (sha, **inputs) -> the running entrypoint."""
    boto3.client("s3").create_bucket(Bucket="audit-bucket")

    def start(sha: str, **inputs: str) -> subprocess.Popen:
        env = {**runner_files.env, **aws, "GITHUB_API_URL": github.url, "GITHUB_SHA": sha,
               "PATH": server.env["PATH"], "PIP_NO_INDEX": "1", "UV_OFFLINE": "1",
               "APP_PORT": str(server.port)}  # the app inherits the agent's environment
        inputs = {"mode": "deploy", "transport": "local", "platform": "linux", "server-installer": "uv",
                  "app-directory": str(server.app_dir), "git-remote": str(server.origin),
                  "health-check-url": server.url, "health-check-timeout": "10", "github-token": TOKEN,
                  "s3-bucket": "audit-bucket", **inputs}
        env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
        return subprocess.Popen([sys.executable, str(ROOT / "entrypoint.py")], env=env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    return start


@pytest.fixture
def post_step(runner_files, github):
    """Run the post-entrypoint as the runner does after the step: the saved state as STATE_*."""
    def run(**env: str) -> subprocess.CompletedProcess:
        states = {f"STATE_{name}": value for name, value in runner_files.states().items()}
        full = {**runner_files.env, "GITHUB_API_URL": github.url, "INPUT_GITHUB-TOKEN": TOKEN, **states, **env}
        done = subprocess.run([sys.executable, str(ROOT / "post_entrypoint.py")], env=full, capture_output=True,
                              text=True, timeout=60, cwd=runner_files.env["GITHUB_WORKSPACE"])
        assert done.returncode == 0, done.stdout + done.stderr  # the post step never fails the job
        return done

    return run


def stored_records() -> list[dict]:
    s3 = boto3.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="audit-bucket").get("Contents", []))
    return [json.loads(s3.get_object(Bucket="audit-bucket", Key=k)["Body"].read()) for k in keys]


def finish(process: subprocess.Popen, code: int, before: str = "") -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, before + out + err
    return before + out


def start_and_wait_in_the_hook(step, server, github) -> tuple[subprocess.Popen, str]:
    """Start a deploy whose pre-stop hook sleeps; return once the agent runs it."""
    process = step(server.commit("v1", files=SLOW_HOOK))
    lines = []
    for line in process.stdout:  # the agent's step lines, streamed by the local transport
        lines.append(line)
        if line.split()[:1] == ["deps"]:
            break  # the hook is next
    assert github.states(1) == ["in_progress"], "".join(lines)
    return process, "".join(lines)


def test_a_deploy_then_a_failed_one_rolled_back(step, server, github, runner_files, post_step):
    v1 = server.commit("v1")
    out = finish(step(v1, **{"environment-url": "https://web.example.com"}), 0)
    assert server.get() == (200, "v1 tinydep-1.0")
    assert github.states(1) == ["in_progress", "success"]
    assert github.calls("status")[-1].body == {"state": "success", "log_url": RUN_URL,
                                               "environment_url": "https://web.example.com",
                                               "description": f"Deployed {v1[:12]} to 1/1 target(s)"}
    assert runner_files.outputs()["deployment-id"] == "1"

    v2 = server.commit("v2", crash=True)
    out += finish(step(v2), 1)
    assert server.get() == (200, "v1 tinydep-1.0")
    assert github.states(2) == ["in_progress", "failure"]
    assert github.calls("status")[-1].body["description"] == "1/1 target(s) failed; rolled back"
    first, second = stored_records()
    assert (first["sha"], first["result"], first["deployment_id"]) == (v1, "success", 1)
    linux_agent = payload.build(frozenset({"linux"}))
    assert first["agent_sha256"] == second["agent_sha256"] == linux_agent.sha256  # what ran, by content
    assert (second["sha"], second["result"], second["rolled_back"]) == (v2, "failure", True)
    assert second == json.loads(runner_files.outputs()["audit-json"])
    assert second["instances"][0]["instance_id"] == "local"
    summary = runner_files.summary.read_text()
    assert "| outcome | **failure**: 1/1 target(s) failed; rolled back |" in summary
    [why] = [line for line in summary.splitlines() if line.startswith("- `local`: ")]
    assert why.endswith("The previous version was put back.") and len(why) > 60, why
    assert "| GitHub deployment | #2, status failure |" in summary
    log = "\n".join(line for line in out.splitlines() if not line.startswith("::add-mask"))
    assert TOKEN not in summary + log + json.dumps([first, second])

    post_step()
    assert github.states(2) == ["in_progress", "failure"]  # nothing left for the post step


def test_sigterm_while_the_agent_works_ends_the_deployment_error(step, server, github, runner_files):
    process, before = start_and_wait_in_the_hook(step, server, github)
    process.send_signal(signal.SIGTERM)
    out = finish(process, 1, before)
    assert github.states(1) == ["in_progress", "error"]
    assert github.calls("status")[-1].body["description"].startswith(
        "Cancelled (signal 15: the workflow was cancelled) before the deploy finished")
    [stopped] = [a for a in annotations(out) if a.startswith("Stopped: signal 15: the workflow was cancelled. See ")]
    assert stopped.endswith("#cancelled-runs-and-the-post-step")
    assert "#cancelled-runs-and-the-post-step" in runner_files.summary.read_text()
    [record] = stored_records()
    assert record["result"] == "cancelled"
    assert runner_files.states()["deployment_id"] == ""  # nothing left for the post step


def test_sigint_first_as_docker_forwards_a_cancel(step, server, github):
    """On cancel the runner interrupts `docker run`, which passes SIGINT on before any SIGTERM."""
    process, before = start_and_wait_in_the_hook(step, server, github)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode != 0
    assert github.states(1) == ["in_progress", "error"]
    assert github.calls("status")[-1].body["description"].startswith("Cancelled (")
    assert stored_records()[0]["result"] == "cancelled"


def test_killed_while_the_agent_works_then_the_post_step_ends_it(step, server, github, runner_files, post_step):
    process, _ = start_and_wait_in_the_hook(step, server, github)
    process.kill()  # no chance to clean up, as when the runner's kill timeout expires
    process.communicate(timeout=30)
    assert runner_files.states() == {"started": "true", "deployment_id": "1"}
    done = post_step()
    assert github.states(1) == ["in_progress", "error"]
    assert github.calls("status")[-1].body == {"state": "error", "description": KILLED, "log_url": RUN_URL}
    assert "GitHub deployment 1 was left in_progress; set it to error." in done.stdout


def test_no_token_deploys_with_a_notice(step, server, github, runner_files):
    out = finish(step(server.commit("v1"), **{"github-token": ""}), 0)
    assert annotations(out, "notice") == [
        "No GitHub deployment is recorded: github-token is empty. The deploy goes ahead."]
    assert github.requests == [] and "deployment-id" not in runner_files.outputs()
    assert stored_records()[0]["result"] == "success"


def test_the_post_step_posts_the_final_status_the_step_could_not(github, runner_files, post_step):
    number = github.add_deployment("0" * 40, "production", "in_progress")
    runner_files.state.write_text(f"deployment_id={number}\ndeployment_final="
                                  + json.dumps({"state": "failure", "description": "1/3 target(s) failed"}) + "\n")
    post_step(**{"INPUT_ENVIRONMENT-URL": "https://web.example.com"})
    assert github.states(number) == ["in_progress", "failure"]
    assert github.calls("status")[-1].body == {"state": "failure", "description": "1/3 target(s) failed",
                                               "environment_url": "https://web.example.com", "log_url": RUN_URL}


def test_the_post_step_leaves_a_finished_deployment_alone(github, runner_files, post_step):
    number = github.add_deployment("0" * 40, "production", "success")
    runner_files.state.write_text(f"deployment_id={number}\n")
    post_step()
    assert github.states(number) == ["success"] and not github.calls("status")[1:]


def test_the_post_step_warns_when_github_is_unreachable(runner_files, post_step):
    runner_files.state.write_text("deployment_id=1\n")
    done = post_step(GITHUB_API_URL="http://127.0.0.1:9")
    [warning] = annotations(done.stdout, "warning")
    assert warning.startswith("Could not finalise GitHub deployment 1; it may still show in progress: "
                              "Could not reach GitHub at http://127.0.0.1:9")
