"""The SendCommand request: batching, targets, comment, size limit, and the boto3 clients."""

from __future__ import annotations

import dataclasses
import random
import string

import pytest

from ssm_action import payload
from ssm_action.deploy import plan
from ssm_action.errors import ActionError
from ssm_action.transports.ssm import command
from ssm_action.transports.ssm import request as ssm_request
from tests.ssm.conftest import CTX


def requests_for(cfg, **changes):
    the_plan = plan.build(cfg, CTX, "production")
    data = command.script_payload(dataclasses.replace(the_plan, params=dataclasses.replace(the_plan.params, **changes)))
    return ssm_request.build(cfg.targets, CTX, "production", data)


def test_instance_ids_go_50_to_a_call(make_cfg):
    ids = [f"i-{n:017x}" for n in range(101)]
    requests = requests_for(make_cfg(instance_ids=",".join(ids)))
    assert [r["InstanceIds"] for r in requests] == [ids[:50], ids[50:100], ids[100:]]
    assert all("Targets" not in r for r in requests)


def test_a_repeated_instance_id_is_sent_once(make_cfg):
    [request] = requests_for(make_cfg(instance_ids="i-0123456789abcdef0, i-0123456789abcdef1, i-0123456789abcdef0"))
    assert request["InstanceIds"] == ["i-0123456789abcdef0", "i-0123456789abcdef1"]


def test_targets_go_in_one_call(make_cfg):
    [request] = requests_for(make_cfg(targets="tag:App=web, tag:App=api, tag:Env=prod"))
    assert request["Targets"] == [{"Key": "tag:App", "Values": ["web", "api"]}, {"Key": "tag:Env", "Values": ["prod"]}]
    assert "InstanceIds" not in request


def test_timeouts_rate_control_and_output_bucket(make_cfg):
    cfg = make_cfg(instance_ids="i-0123456789abcdef0,i-0123456789abcdef1", delivery_timeout="120",
                   execution_timeout="900", max_concurrency="25%", max_errors="1", s3_bucket="logs-bucket",
                   s3_key_prefix="/deploys/", cloudwatch_log_group="/ssm-deploy/web")
    [request] = requests_for(cfg)
    assert request["TimeoutSeconds"] == 120 and request["Parameters"]["executionTimeout"] == ["900"]
    # the rollout is the action's: SSM sends each request to all its instances and never stops on its own
    assert (request["MaxConcurrency"], request["MaxErrors"]) == ("2", "2")
    assert (request["OutputS3BucketName"], request["OutputS3KeyPrefix"]) == ("logs-bucket", "deploys")
    assert request["CloudWatchOutputConfig"] == {"CloudWatchLogGroupName": "/ssm-deploy/web",
                                                 "CloudWatchOutputEnabled": True}


def test_a_tag_request_lets_ssm_send_to_all_at_once(make_cfg):
    [request] = requests_for(make_cfg(targets="tag:App=web", max_concurrency="10%", max_errors="0"))
    assert (request["MaxConcurrency"], request["MaxErrors"]) == ("100%", "100%")
    assert "CloudWatchOutputConfig" not in request


def test_the_comment_names_commit_and_actor_within_100_characters():
    ctx = dataclasses.replace(CTX, actor="a-very-long-github-user-name-" * 4)
    text = ssm_request.comment(ctx, "production")
    assert len(text) == 100 and text.startswith(f"ssm-deploy {CTX.sha[:12]} to production by a-very-long")


def test_the_real_request_is_measured_and_well_inside_the_limit(make_cfg):
    [request] = requests_for(make_cfg(instance_ids="i-0123456789abcdef0"))
    size = ssm_request.parameters_size(request)
    assert 10_000 < size < ssm_request.PARAMETERS_LIMIT - 20_000  # room left for long inputs
    assert ssm_request.PARAMETERS_LIMIT == 64 * 1024 - 4 * 1024


@pytest.mark.parametrize("platform", ["windows", "linux"])
def test_a_configuration_over_the_size_limit_fails_clearly(make_cfg, platform):
    cfg = make_cfg(instance_ids="i-0123456789abcdef0", platform=platform,
                   app_directory="/srv/app" if platform == "linux" else "C:\\app")
    noise = "".join(random.Random(1).choices(string.ascii_letters, k=45_000))  # base64: 60 KB
    with pytest.raises(ActionError) as caught:
        requests_for(cfg, git_remote=noise)
    assert caught.value.title == "SSM request too large"
    assert "SSM allows 64 KB for a document and its runtime parameters" in caught.value.message
    assert "61,440 bytes" in caught.value.message
    assert caught.value.message.count("(xz+base64)") == 1  # both bootstraps carry the agent so


def test_clients_use_adaptive_bounded_retries_and_the_region(make_cfg, aws):
    cfg = make_cfg(instance_ids="i-0123456789abcdef0", aws_region="eu-west-1")
    ssm_client, s3_client = command.clients(cfg.targets)
    assert ssm_client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 6}
    assert ssm_client.meta.region_name == s3_client.meta.region_name == "eu-west-1"


# -- artifact delivery (issue 15): the presigned URL travels in the command

def presigned_url(token_chars: int) -> str:
    """A real SigV4 presigned GET, as a role session signs it (its session token is most of the URL)."""
    import boto3
    from botocore.config import Config

    token = "".join(random.Random(2).choices(string.ascii_letters + string.digits + "/+", k=token_chars))
    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="ASIA" + "X" * 16,
                      aws_secret_access_key="s" * 40, aws_session_token=token,
                      config=Config(signature_version="s3v4"))
    key = f"ssm-deploy/artifacts/{CTX.sha}-{'a' * 64}.zip"
    return s3.generate_presigned_url("get_object", Params={"Bucket": "my-deploy-artifacts", "Key": key},
                                     ExpiresIn=3600)


def artifact_request(cfg, url: str, extras: frozenset[str] = frozenset()):
    the_plan = plan.build(cfg, CTX, "production")
    the_plan = dataclasses.replace(the_plan, params=dataclasses.replace(
        the_plan.params, artifact_url=url, artifact_sha256="a" * 64, artifact_size=123_456_789))
    if extras:
        the_plan = dataclasses.replace(the_plan, payload=payload.build(extras))
    [request] = ssm_request.build(cfg.targets, CTX, "production", command.script_payload(the_plan))
    return request


def test_an_artifact_deploy_fetches_the_agent_from_s3_and_keeps_room(make_cfg):
    """source: artifact needs s3-bucket, so its agent always comes from S3 (transports/ssm/agent_store.py)."""
    cfg = make_cfg(instance_ids="i-0123456789abcdef0", source="artifact", wheelhouse="true",
                   server_python_version="3.11", s3_bucket="my-deploy-artifacts")
    url = presigned_url(1_200)
    assert 1_700 < len(url) < 2_100  # the size of a role session's URL
    size = ssm_request.parameters_size(artifact_request(cfg, url))
    default = ssm_request.parameters_size(requests_for(make_cfg(instance_ids="i-0123456789abcdef0"))[0])
    print(f"SendCommand parameters: default {default:,} bytes, source artifact {size:,} bytes")
    assert size < 12_000 < default


APP_DIRS = {"linux": "/srv/app", "windows": "C:\\app"}
SERVICE_MODULES = {"linux": "ssm_action/agent/systemd.py", "windows": "ssm_action/agent/scheduled_task.py"}
SECRETS = "API_KEY=ssm:/octo/api-key\nDB_URL=secretsmanager:octo/db"


@pytest.mark.parametrize("platform", ["windows", "linux"])
def test_every_agent_module_inline_still_fits(make_cfg, platform):
    """Without s3-bucket the agent travels in the command: every optional module an inline command for the
    platform can carry, at once, must still fit. Not the other platform's service host, nor the artifact
    modules: source artifact needs s3-bucket, so that agent always comes from S3 (the test above). While the
    agent travelled gzipped this was refused on Linux (63,292 bytes) and on Windows a service host from an
    artifact alone was (62,665)."""
    cfg = make_cfg(instance_ids="i-0123456789abcdef0", platform=platform, app_host="service", app_secrets=SECRETS,
                   app_directory=APP_DIRS[platform])
    the_plan = dataclasses.replace(plan.build(cfg, CTX, "production"),
                                   payload=payload.build(payload.inline_extras(platform)))
    [request] = ssm_request.build(cfg.targets, CTX, "production", command.script_payload(the_plan))
    size = ssm_request.parameters_size(request)
    print(f"SendCommand parameters: {platform}, every agent module inline: {size:,} bytes")
    assert size < ssm_request.PARAMETERS_LIMIT - 3_000


@pytest.mark.parametrize("platform", ["windows", "linux"])
def test_a_service_host_with_secrets_inline_fits_with_room_to_spare(make_cfg, platform):
    cfg = make_cfg(instance_ids="i-0123456789abcdef0", platform=platform, app_host="service", app_secrets=SECRETS,
                   app_directory=APP_DIRS[platform])
    assert SERVICE_MODULES[platform] in plan.build(cfg, CTX, "production").payload.members
    size = ssm_request.parameters_size(requests_for(cfg)[0])  # the plan's own agent, as a deploy sends it
    print(f"SendCommand parameters: {platform}, app-host service with secrets, inline: {size:,} bytes")
    assert size < ssm_request.PARAMETERS_LIMIT - 5_000  # room for long paths and values
