"""The deploy agent through S3 when s3-bucket is set: stored once per version under its sha256,
the command carries only a ticket (a presigned URL and the sha256), and the real bootstrap
fetches the agent from moto over HTTP and refuses bytes that are not the ones sent."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import sys
from pathlib import Path

import boto3
import pytest

from ssm_action import payload
from ssm_action.deploy import plan
from ssm_action.transports.ssm import SsmTransport, agent_store, bootstrap, command
from ssm_action.transports.ssm import request as ssm_request
from tests.agent.agent_fixtures import Server, build_wheel, kill_processes_under, uv_folder
from tests.ssm.agent_runs import run_script
from tests.ssm.conftest import BASE_INPUTS, CTX
from tests.ssm.fake_ssm import ran
from tests.ssm.test_request import presigned_url
from tests.ssm.unpack_stub import written_files
from tests import factories

BUCKET = "deploy-logs"
ONE = "i-00000000000000001"


def deploy(fake, make_cfg, clock, agent_runs, **inputs: str):
    fake.register(ONE, "Windows")
    fake.plan(ONE, ran(agent_runs["success"].stdout))
    cfg = make_cfg(instance_ids=ONE, s3_bucket=BUCKET, s3_key_prefix="deploys/web", **inputs)
    return SsmTransport(pacing=clock.pacing()).run(plan.build(cfg, CTX, "production"))


def carried(script_lines: list[str]) -> bytes:
    return written_files("\n".join(script_lines))["agent.in"]


def test_the_agent_is_stored_once_per_version_and_the_command_carries_its_ticket(
        fake, make_cfg, clock, agent_runs, capsys):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    agent = payload.build_full()
    key = f"deploys/web/agent/{agent.sha256}.pyz"

    assert deploy(fake, make_cfg, clock, agent_runs).ok
    stored = s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["Body"].read() == agent.data and stored["Metadata"] == {"sha256": agent.sha256}
    [sent] = fake.commands()
    ticket = json.loads(carried(sent.parameters["commands"]))
    assert ticket["sha256"] == agent.sha256 and f"/{key}?" in ticket["url"]
    assert ssm_request.parameters_size({"Parameters": sent.parameters}) < 12_000
    assert f"the agent ({agent.sha256[:12]}) is fetched from S3" in capsys.readouterr().out

    # The same version again: found by HeadObject, not uploaded (the marker set in between survives).
    s3.copy_object(Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": key},
                   Metadata={"sha256": agent.sha256, "marker": "kept"}, MetadataDirective="REPLACE")
    assert deploy(fake, make_cfg, clock, agent_runs).ok
    assert s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]["marker"] == "kept"


def test_without_a_bucket_the_agent_travels_inline(fake, make_cfg, clock, agent_runs):
    fake.register(ONE, "Windows")
    fake.plan(ONE, ran(agent_runs["success"].stdout))
    the_plan = plan.build(make_cfg(instance_ids=ONE), CTX, "production")
    assert SsmTransport(pacing=clock.pacing()).run(the_plan).ok
    [sent] = fake.commands()
    assert carried(sent.parameters["commands"]) == bootstrap.pack(the_plan.payload.data)


def test_a_refused_upload_names_the_permission(fake, make_cfg, clock, agent_runs):
    with pytest.raises(Exception) as failure:  # the bucket does not exist
        deploy(fake, make_cfg, clock, agent_runs)
    assert "s3:PutObject" in str(failure.value) and "deploys/web/agent/*" in str(failure.value)
    assert fake.commands() == []


FEATURES = {"app_host": ["process", "service"], "source": ["git", "artifact"],
            "app_secrets": ["", "API_KEY=ssm:/octo/api-key"], "platform": ["linux", "windows"]}


@pytest.mark.parametrize("combo", list(itertools.product(*FEATURES.values())), ids=lambda c: "-".join(c))
def test_every_feature_combination_stays_under_12000_bytes_with_a_bucket(tmp_path: Path, combo):
    inputs = dict(zip(FEATURES, combo))
    app_dir = "C:\\apps\\octo" if inputs["platform"] == "windows" else "/srv/octo"
    given = {**BASE_INPUTS, **inputs, "instance_ids": ONE, "app_directory": app_dir, "s3_bucket": "my-deploy-bucket"}
    cfg = factories.deploy_config(tmp_path, None, **given)
    the_plan = plan.build(cfg, CTX, "production")
    if inputs["source"] == "artifact":
        the_plan = dataclasses.replace(the_plan, params=dataclasses.replace(
            the_plan.params, artifact_url=presigned_url(1_200), artifact_sha256="a" * 64,
            artifact_size=123_456_789))
    url = presigned_url(1_200)  # a role session's URL: as long as a real one
    for action in ("", "rollback"):
        data = command.script_payload(the_plan, action, agent_url=url)
        size = ssm_request.parameters_size(ssm_request.base(cfg.targets, CTX, "production", data))
        assert size < 12_000, (combo, action, size)
    assert the_plan.payload == payload.build_full()


@pytest.fixture
def served(tmp_path: Path, aws):
    """The full agent in moto's S3 and a presigned URL to it (moto over real HTTP)."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    agent = payload.build_full()
    url = agent_store.publish(s3, BUCKET, "deploys/web", agent)
    return s3, agent, url


def test_the_real_bootstrap_fetches_the_agent_from_s3_and_deploys(served, tmp_path: Path):
    _, agent, url = served
    server = Server(tmp_path / "server", build_wheel(tmp_path), uv_folder(tmp_path / "uv"))
    try:
        data = bootstrap.payload(agent, server.params(server.commit("v1")), sys.executable, agent_url=url)
        done = run_script(bootstrap.script("linux", data), server.root, server.env)
    finally:
        kill_processes_under(tmp_path)
    assert done.result and done.result.status == "success", done.stdout + done.stderr


def test_an_agent_that_is_not_the_one_sent_is_refused(served, tmp_path: Path):
    s3, agent, url = served
    key = agent_store.key("deploys/web", agent)
    s3.put_object(Bucket=BUCKET, Key=key, Body=agent.data.replace(b"def main", b"def evil"))
    data = bootstrap.payload(agent, {"deploy_id": "1-1"}, sys.executable, agent_url=url)
    done = run_script(bootstrap.script("linux", data), tmp_path, {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)})
    assert done.code == bootstrap.NO_AGENT_EXIT and done.result is None
    assert f"not {agent.sha256} as the command says: it was not run" in done.stderr


def test_an_unreachable_agent_fails_with_its_reason(served, tmp_path: Path):
    s3, agent, url = served
    s3.delete_object(Bucket=BUCKET, Key=agent_store.key("deploys/web", agent))
    ticket = base64.b64encode(bootstrap.ticket(url, agent.sha256)).decode()
    data = bootstrap.payload(agent, {"deploy_id": "1-1"}, sys.executable, agent_url=url)
    assert data.agent_b64 == ticket
    done = run_script(bootstrap.script("linux", data), tmp_path, {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)})
    assert done.code == bootstrap.NO_AGENT_EXIT
    assert "could not download the deploy agent from S3 (HTTP Error 404" in done.stderr
