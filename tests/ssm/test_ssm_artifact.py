"""``source: artifact`` through SSM: the entrypoint packs the commit and uploads it to moto S3 over HTTP
BEFORE SendCommand; the command moto received then runs here as the SSM Agent would run it (``sh -c``),
on a "server" whose package index is a closed port: the agent downloads the presigned URL, verifies,
installs from the wheelhouse and serves. The fake SSM answers with real agent output (agent_runs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3

from tests.agent.agent_fixtures import free_port, http_get, kill_processes_under, uv_folder
from tests.artifact.artifact_fixtures import Project, closed_port_env, pip_index_env, wheel_folder
from tests.ssm.agent_runs import run_script
from tests.ssm.fake_ssm import ran

IID = "i-0000000000000000a"
BUCKET = "octo-deploy-artifacts"
PYTHON = "%d.%d" % sys.version_info[:2]


def test_the_artifact_is_stored_before_the_command_and_the_sent_command_deploys_it(
        fake, aws, runner_files, agent_runs, tmp_path: Path):
    fake.register(IID, platform="Linux")
    fake.plan(IID, ran(agent_runs["success"].stdout))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    project = Project.create(tmp_path / "repo")
    sha = project.commit("v1")
    wheels = wheel_folder(tmp_path / "wheels")
    runner_files.env.update(aws, **pip_index_env(wheels), GITHUB_WORKSPACE=str(project.repo), GITHUB_SHA=sha)
    port, app_dir = free_port(), tmp_path / "srv" / "app"
    inputs = {"mode": "deploy", "transport": "ssm", "instance-ids": IID, "platform": "linux",
              "app-directory": str(app_dir), "aws-region": "us-east-1", "create-deployment": "false",
              "source": "artifact", "wheelhouse": "true", "server-python-version": PYTHON,
              "server-python": sys.executable, "s3-bucket": BUCKET,
              "health-check-url": f"http://127.0.0.1:{port}/health"}
    done = runner_files.run(inputs)
    assert done.returncode == 0, done.stdout + done.stderr
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="ssm-deploy/artifacts/")["Contents"]]
    assert key.startswith(f"ssm-deploy/artifacts/{sha}-") and "uploaded" in done.stdout
    text = done.stdout + runner_files.summary.read_text()
    shown = [line for line in text.splitlines() if "X-Amz-Signature" in line]
    assert [line.split("::")[1] for line in shown] == ["add-mask"]  # the presigned URL: masked, never shown

    [command] = fake.commands()
    server = closed_port_env(free_port())
    server.update(APP_PORT=str(port), PATH=f"{uv_folder(tmp_path / 'uv')}{os.pathsep}{server['PATH']}")
    try:
        agent = run_script("\n".join(command.parameters["commands"]), tmp_path, server)
        assert agent.result is not None and agent.result.status == "success", agent.stdout + agent.stderr
        assert "from 1 wheel(s), no index" in agent.stdout
        assert http_get(f"http://127.0.0.1:{port}/health") == (200, "v1 tinydep-1.0")
    finally:
        kill_processes_under(tmp_path / "srv")

    fake.plan(IID, ran(agent_runs["success"].stdout))
    again = runner_files.run(inputs)
    assert again.returncode == 0 and "nothing uploaded" in again.stdout, again.stdout
