"""One deploy through SSM: pre-flight, SendCommand, a wait on the whole fleet, per-instance results.

deploy() is what SsmTransport.run calls. Credentials come from boto3's
default chain (so aws-actions/configure-aws-credentials just works) and
AWS_ENDPOINT_URL is honoured by botocore itself (the tests point it at moto).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from ssm_action import __version__, runner, summary
from ssm_action.config.sections import TargetsConfig
from ssm_action.deploy import artifact_store
from ssm_action.deploy.model import DeployOutcome, InstanceResult
from ssm_action.deploy.plan import Plan
from ssm_action.errors import ActionError, Cancelled
from ssm_action.transports.ssm import agent_store, bootstrap
from ssm_action.transports.ssm import preflight
from ssm_action.transports.ssm import request as ssm_request
from ssm_action.transports.ssm.output import Collector
from ssm_action.transports.ssm.resume import is_rerun
from ssm_action.transports.ssm.rollout import Rollout
from ssm_action.transports.ssm.traffic import Traffic
from ssm_action.transports.ssm.wait import FleetWait, Pacing, Watch

# botocore retries each call on throttling, 5xx and connection errors; adaptive mode also slows the
# client down while SSM throttles. Bounded: past that, the waiter skips a poll and backs off.
RETRIES = {"mode": "adaptive", "max_attempts": 5}  # retries after the first attempt
DEADLINE_GRACE = 60  # seconds past delivery-timeout + execution-timeout before this action gives up
ACCESS_HINTS = {
    "AccessDeniedException": "the AWS identity lacks this permission: allow ssm:DescribeInstanceInformation, "
                             "ssm:SendCommand, ssm:ListCommandInvocations, ssm:ListCommands, ssm:CancelCommand, "
                             "ssm:GetCommandInvocation (and s3:GetObject on s3-bucket).",
    "UnrecognizedClientException": "the credentials are not valid in this account or region.",
    "ExpiredTokenException": "the credentials expired: configure them in the same job, right before this step.",
}


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


def aws_error(action: str, exc: Exception) -> ActionError:
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    hint = ACCESS_HINTS.get(code, "see the AWS message above.")
    return ActionError(f"{action} failed", f"AWS refused {action}: {exc}. Likely cause: {hint}",
                       anchor="aws-credentials-and-permissions")


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


def show_outputs(results: list[InstanceResult]) -> None:
    """Each instance's output (the agent's step lines), folded, after the live timeline."""
    for result in results:
        with runner.group(f"Output of {result.instance_id} ({result.status})"):
            runner.log_verbatim(result.output.rstrip() or result.error or "(no output)")


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


class Run:
    """Waves through SSM: send, wait, and cancel what was sent when it must stop."""

    def __init__(self, ssm: Any, s3: Any, cfg: TargetsConfig, pacing: Pacing):
        self.ssm = ssm
        self.cfg = cfg
        self.pacing = pacing
        self.collector = Collector(ssm, s3, cfg)
        self.sent: dict[str, list[str]] = {}  # command id -> instance ids it was sent to (or pre-flight's)
        self.open: dict[str, list[str]] = {}  # the same, for the wave in flight: what a stop cancels
        self.waiter: FleetWait | None = None
        self.on_ended: Callable[[list[InstanceResult]], None] | None = None  # e.g. register it in the target groups

    @property
    def timeout(self) -> int:
        return self.cfg.delivery_timeout + self.cfg.execution_timeout + DEADLINE_GRACE

    def guarded(self, work: Callable[[], DeployOutcome]) -> DeployOutcome:
        """Run ``work``; a cancel or a lost command cancels everything sent."""
        try:
            outcome = work()
        except Cancelled:
            self.cancel("the workflow was cancelled")
            self.record_cancelled()
            raise
        except (ClientError, BotoCoreError) as exc:  # e.g. ssm:ListCommandInvocations denied
            self.cancel("this action can no longer follow it")
            raise aws_error("following the command", exc) from exc
        show_outputs(outcome.results + outcome.fleet_rollback)
        if self.sent:
            outcome.command_id = ",".join(self.sent)
            outcome.log_url = self.collector.log_url(next(iter(self.sent)))
        return outcome

    def wave(self, requests: list[dict[str, Any]], ids: list[str]) -> list[InstanceResult]:
        """Send the requests, wait until each invocation ends (or the deadline), the results in ``ids`` order."""
        self.open = {}
        self.collector.results = {}  # a server may be in an earlier wave's command too (status, rollback)
        sent = self.send(requests, ids)
        waiter = self.waiter = FleetWait(self.ssm, sent, "Targets" in requests[0], self.pacing,
                                         self.pacing.clock() + self.timeout, self.ended)
        finished = waiter.run()
        if not finished:
            runner.warning(f"Not every instance finished within {self.timeout} s (delivery-timeout + "
                           f"execution-timeout + {DEADLINE_GRACE} s): cancelling.", title="SSM deadline passed")
            self.cancel("the deadline passed")
        results = self.collector.results
        order = ids + [iid for iid in waiter.watches if iid not in ids]
        return [results.get(iid) or self.missing(waiter.watches[iid], finished) for iid in order]

    def ended(self, watches: list[Watch]) -> None:
        """Invocations just ended: their results, then whatever must follow each at once."""
        self.collector(watches)
        if self.on_ended:
            self.on_ended([self.collector.results[w.instance_id] for w in watches])

    def send(self, requests: list[dict[str, Any]], ids: list[str]) -> dict[str, list[str]]:
        for request in requests:
            try:
                command = self.ssm.send_command(**request)["Command"]
            except (ClientError, BotoCoreError) as exc:
                self.cancel("a later SendCommand call failed")
                raise aws_error("SendCommand", exc) from exc
            targets = self.open[command["CommandId"]] = self.sent[command["CommandId"]] = (
                request.get("InstanceIds") or ids)
            runner.log(f"Sent command {command['CommandId']} to {len(targets)} instance(s); the timeline (UTC) "
                       "follows.")
        return dict(self.open)

    def cancel(self, reason: str) -> None:
        """Cancel the wave in flight (the waves before it have ended)."""
        for command_id in self.open:
            try:
                self.ssm.cancel_command(CommandId=command_id)
            except (ClientError, BotoCoreError) as exc:
                runner.warning(f"Could not cancel SSM command {command_id} ({exc}): cancel it in the AWS console.",
                               title="Cancel failed")
                continue
            runner.log(f"Cancelled SSM command {command_id}: {reason}.")

    def record_cancelled(self) -> None:
        """What each instance was doing when the workflow was cancelled: in the log and the summary."""
        rows: list[list[str]] = []
        for watch in self.waiter.watches.values() if self.waiter else []:
            result = self.collector.results.get(watch.instance_id)
            last = result.status if result else watch.state or "not listed yet"
            rows.append([summary.code(watch.instance_id), summary.escape(last), "finished" if result else "stopped"])
        runner.warning(f"The workflow was cancelled during the deploy: SSM command(s) {', '.join(self.open) or '-'} "
                       "cancelled. Instances that had started may be part-way through the deploy: check them, "
                       "or deploy again.", title="Deploy cancelled")
        commands = summary.code(", ".join(self.open) or "-")
        runner.add_summary(summary.headline(":stop_sign:", "Deploy cancelled")
                           + f"\nThe workflow was cancelled; the SSM command {commands} was cancelled.\n\n"
                           + summary.table(("instance", "last state", ""), rows))

    def missing(self, watch: Watch, finished: bool) -> InstanceResult:
        url = self.collector.log_url(watch.command_id, watch.instance_id)
        if finished:  # by tag: SSM's own target list left it out
            return InstanceResult(watch.instance_id, "NotSent", log_url=url, error=(
                "SSM did not send the command to it: its tags changed or it went offline after pre-flight."))
        return InstanceResult(watch.instance_id, "Cancelled", timeline=list(watch.timeline), log_url=url, error=(
            f"Still {watch.state or 'not started'} when this action's deadline passed ({self.timeout} s: "
            f"delivery-timeout + execution-timeout + {DEADLINE_GRACE} s); the command was cancelled."))
