"""One deploy through SSM: pre-flight, SendCommand, a wait on the whole fleet, per-instance results.

deploy() is what SsmTransport.run calls. Credentials come from boto3's
default chain (so aws-actions/configure-aws-credentials just works) and
AWS_ENDPOINT_URL is honoured by botocore itself (the tests point it at moto).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from ssm_action import __version__, runner
from ssm_action.config.sections import TargetsConfig
from ssm_action.deploy import artifact_store
from ssm_action.deploy.model import DeployOutcome, Plan
from ssm_action.errors import ActionError
from ssm_action.transports.ssm import agent_store, bootstrap
from ssm_action.transports.ssm import preflight
from ssm_action.transports.ssm import request as ssm_request
from ssm_action.transports.ssm.resume import is_rerun
from ssm_action.transports.ssm.rollout import Rollout
from ssm_action.transports.ssm.traffic import Traffic
from ssm_action.transports.ssm.wait import Pacing
from ssm_action.transports.ssm.waves import Run, aws_error

# botocore retries each call on throttling, 5xx and connection errors; adaptive mode also slows the
# client down while SSM throttles. Bounded: past that, the waiter skips a poll and backs off.
RETRIES = {"mode": "adaptive", "max_attempts": 5}  # retries after the first attempt


def clients(cfg: TargetsConfig, retries: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """SSM and S3 clients on the default credential chain; ActionError before any call without credentials."""
    session = boto3.session.Session(region_name=cfg.aws_region)
    if session.get_credentials() is None:
        raise ActionError(
            "No AWS credentials",
            "No AWS credentials were found (environment, shared files, web identity, container or instance "
            "role). Add aws-actions/configure-aws-credentials before this step (an OIDC role or access keys).",
            anchor="aws-credentials-and-permissions",
        )
    boto_cfg = BotoConfig(retries=retries or RETRIES,
                          user_agent_extra=f"ssm-deploy-action/{__version__}")
    return session.client("ssm", config=boto_cfg), session.client("s3", config=boto_cfg)


def show_dry_run(plan: Plan, requests: list[dict[str, Any]], data: bootstrap.Payload) -> None:
    with runner.group(f"Dry run: the SendCommand request(s), {len(requests)} call(s)"):
        runner.log(json.dumps(requests, indent=2))
    with runner.group("Dry run: the script each instance would run (base64 literals shown decoded)"):
        runner.log(f"# agent zipapp: sha256 {plan.payload.sha256}, members {', '.join(plan.payload.members)}")
        runner.log(bootstrap.review(plan.targets.platform, data))
    cfg = plan.targets
    if cfg.max_concurrency != "100%" and plan.params.action != "status":
        runner.log(f"Rollout: waves of max-concurrency {cfg.max_concurrency} over the targets pre-flight finds, "
                   f"error budget max-errors {cfg.max_errors}; each wave's requests are the ones above, by "
                   "instance id.")
    runner.notice("Nothing was sent and no AWS call was made (pre-flight skipped). The request and the script "
                  "are in the log above.", title="SSM dry run")


def script_payload(plan: Plan, action: str = "", agent_url: str = "") -> bootstrap.Payload:
    """What the bootstrap script carries: the agent and the plan's parameters (another action's, if given).
    With s3-bucket set, the agent's ticket: ``agent_url``, or before the upload (to measure and review the
    command without any call) a stand-in URL of a real one's size."""
    params = dataclasses.replace(plan.params, action=action) if action else plan.params
    cfg = plan.targets
    if cfg.s3_bucket and not agent_url:
        agent_url = agent_store.stand_in_url(cfg.s3_bucket, cfg.s3_key_prefix, plan.payload)
    return bootstrap.payload(plan.payload, params.to_json(), plan.python_on_server, agent_url)


def deploy(plan: Plan, *, pacing: Pacing | None = None, retries: dict[str, Any] | None = None) -> DeployOutcome:
    cfg = plan.targets
    data = script_payload(plan)
    base = ssm_request.base(cfg, plan.ctx, plan.environment, data)
    requests = ssm_request.build(cfg, plan.ctx, plan.environment, data)
    runner.log(f"SSM: {bootstrap.DOCUMENTS[cfg.platform]}; parameters {ssm_request.parameters_size(base):,} "
               f"of {ssm_request.PARAMETERS_LIMIT:,} bytes allowed"
               + (f"; the agent ({plan.payload.sha256[:12]}) is fetched from S3." if data.agent_url else "."))
    if plan.dry_run:
        show_dry_run(plan, requests, data)
        return DeployOutcome("ssm", dry_run=True, action=plan.params.action)
    ssm, s3 = clients(cfg, retries)
    try:
        ids = preflight.check(ssm, cfg)
    except (ClientError, BotoCoreError) as exc:
        raise aws_error("DescribeInstanceInformation", exc) from exc
    url = publish_agent(plan) if cfg.s3_bucket else ""
    if url:
        base = ssm_request.base(cfg, plan.ctx, plan.environment, script_payload(plan, agent_url=url))
    undo = ssm_request.base(cfg, plan.ctx, plan.environment, script_payload(plan, "rollback", url))
    run = Run(ssm, s3, cfg, pacing or Pacing())
    rollout = Rollout(run, cfg, base, undo, plan.params.action)
    if cfg.traffic.watched and plan.params.action != "status":
        rollout.traffic = watch_traffic(plan, ids, run, retries)
    if plan.params.action == "deploy" and is_rerun(plan.ctx.run_attempt) and not cfg.traffic.redeploy:
        status = ssm_request.base(cfg, plan.ctx, plan.environment, script_payload(plan, "status"))
        rollout.resume_from = (status, plan.ctx.sha)
    return run.guarded(lambda: rollout.execute(ids))


def watch_traffic(plan: Plan, ids: list[str], run: Run, retries: dict[str, Any] | None) -> Traffic:
    """The target groups and alarms, every name checked against AWS before anything is sent."""
    cfg = plan.targets
    session = boto3.session.Session(region_name=cfg.aws_region)
    boto_cfg = BotoConfig(retries=retries or RETRIES, user_agent_extra=f"ssm-deploy-action/{__version__}")
    traffic = Traffic(session.client("elbv2", config=boto_cfg), session.client("cloudwatch", config=boto_cfg),
                      cfg.traffic, plan.server.health_check_timeout, run.pacing)
    try:
        traffic.check(ids)
    except (ClientError, BotoCoreError) as exc:
        raise aws_error("the load balancer pre-flight", exc) from exc
    run.on_ended = traffic.ended
    return traffic


def publish_agent(plan: Plan) -> str:
    """The agent stored in S3 (once per version); the presigned URL the servers fetch it with."""
    cfg = plan.targets
    url = agent_store.publish(artifact_store.client(cfg.aws_region), cfg.s3_bucket, cfg.s3_key_prefix,
                              plan.payload)
    runner.log(f"Deploy agent: s3://{cfg.s3_bucket}/{agent_store.key(cfg.s3_key_prefix, plan.payload)}.")
    return url
