"""The SSM deploy end to end: the entrypoint as the runner starts it, AWS answered by the moto
server this test process hosts (extended by fake_ssm), outputs and summary as GitHub reads them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.conftest import ROOT
from tests.runner_files import annotations
from tests.ssm.fake_ssm import RUNNING, ran

THREE = [f"i-{n:017x}" for n in range(1, 4)]
GITHUB_SHA = "0123456789abcdef0123456789abcdef01234567"  # what runner_files sets


def inputs(**extra: str) -> dict[str, str]:
    return {"mode": "deploy", "transport": "ssm", "instance-ids": ",".join(THREE), "app-directory": "C:\\apps\\octo",
            "aws-region": "us-east-1", "create-deployment": "false", **extra}


def windows_fleet(fake, *steps):
    for iid in THREE:
        fake.register(iid)
        fake.plan(iid, *steps)


def test_a_deploy_to_three_windows_servers(fake, aws, runner_files, agent_runs):
    success = agent_runs["success"]
    windows_fleet(fake, ran(success.stdout))
    runner_files.env.update(aws)
    done = runner_files.run(inputs())

    assert done.returncode == 0, done.stdout + done.stderr
    [command] = fake.commands()
    out = runner_files.outputs()
    assert out["result"] == "success" and out["environment"] == "production"
    assert out["command-id"] == command.command_id and out["instance-ids"] == ",".join(THREE)
    assert out["deployed-sha"] == GITHUB_SHA
    assert (out["previous-sha"], out["backup-path"]) == (success.result.previous_sha, success.result.backup_path)
    assert (out["rolled-back"], out["health-status"]) == ("false", "healthy")
    assert out["log-url"].endswith(f"/run-command/{command.command_id}?region=us-east-1")
    summary = runner_files.summary.read_text()
    assert f"## :rocket: Deployed `{GITHUB_SHA[:12]}` to production" in summary
    for iid in THREE:
        assert f"| `{iid}` | :white_check_mark: Success | 42.0 s | healthy (200) | no | [log](" in summary
    assert f"{THREE[0]} sent -> Success" in done.stdout


def test_one_server_rolled_back_fails_the_step(fake, aws, runner_files, agent_runs):
    windows_fleet(fake, ran(agent_runs["success"].stdout))
    fake.plan(THREE[2], ran(agent_runs["rolled_back"].stdout, code=2))
    runner_files.env.update(aws)
    done = runner_files.run(inputs())

    assert done.returncode == 1
    out = runner_files.outputs()
    assert (out["result"], out["deployed-sha"], out["rolled-back"]) == ("failure", "", "true")
    [error] = annotations(done.stdout)
    assert error.startswith(f"{THREE[2]}: verify: the app exited with code 1: ")
    assert "The previous version was put back." in error
    summary = runner_files.summary.read_text()
    assert "## :x: Deploy to production failed on 1 of 3 target(s)" in summary
    assert f"| `{THREE[2]}` | :x: Failed | 42.0 s | healthy (200) | yes |" in summary


def test_sigterm_during_the_wait_cancels_the_command(fake, aws, runner_files):
    windows_fleet(fake, RUNNING)  # never ends
    env = {**runner_files.env, **aws, **{f"INPUT_{k.upper()}": v for k, v in inputs().items()}}
    proc = subprocess.Popen([sys.executable, str(ROOT / "entrypoint.py")], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Until the action has taken in a whole walk: a second walk starts only after the first
        # answer was read (at most 60 s).
        for _ in range(600):
            if sum(fake.walks.values()) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()

    [command] = fake.commands()
    assert proc.returncode == 1, stdout + stderr
    assert fake.cancelled == [command.command_id]
    assert f"Cancelled SSM command {command.command_id}: the workflow was cancelled." in stdout
    assert runner_files.outputs()["result"] == "failure"
    summary = runner_files.summary.read_text()
    assert "## :stop_sign: Deploy cancelled" in summary and f"| `{THREE[0]}` | InProgress | stopped |" in summary
