"""The SendCommand request: batching, targets, comment, size limit, and the boto3 clients."""

from __future__ import annotations

import dataclasses
import random
import string

import pytest

from ssm_action.deploy import plan
from ssm_action.errors import ActionError
from ssm_action.transports.ssm import command
from ssm_action.transports.ssm import request as ssm_request
from tests.ssm.conftest import CTX


def requests_for(cfg, params=None):
    the_plan = plan.build(cfg, CTX, "production")
    data = command.script_payload(dataclasses.replace(the_plan, params=params or the_plan.params))
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


def test_a_configuration_over_the_size_limit_fails_clearly(make_cfg):
    cfg = make_cfg(instance_ids="i-0123456789abcdef0")
    noise = "".join(random.Random(1).choices(string.ascii_letters, k=45_000))  # base64: 60 KB
    with pytest.raises(ActionError) as caught:
        requests_for(cfg, {**plan.agent_params(cfg, CTX), "git_remote": noise})
    assert caught.value.title == "SSM request too large"
    assert "SSM allows 64 KB for a document and its runtime parameters" in caught.value.message
    assert "61,440 bytes" in caught.value.message


def test_clients_use_adaptive_bounded_retries_and_the_region(make_cfg, aws):
    cfg = make_cfg(instance_ids="i-0123456789abcdef0", aws_region="eu-west-1")
    ssm_client, s3_client = command.clients(cfg.targets)
    assert ssm_client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 6}
    assert ssm_client.meta.region_name == s3_client.meta.region_name == "eu-west-1"
