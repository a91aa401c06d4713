"""Waves through SSM: send the commands, wait on every invocation, cancel what was sent when it must
stop, and the AWS errors of those calls as messages that say what to fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ssm_action import runner, summary
from ssm_action.config.sections import TargetsConfig
from ssm_action.deploy.model import DeployOutcome, InstanceResult
from ssm_action.errors import ActionError, Cancelled
from ssm_action.transports.ssm.collect import Collector
from ssm_action.transports.ssm.wait import FleetWait, Pacing, Watch

DEADLINE_GRACE = 60  # seconds past delivery-timeout + execution-timeout before this action gives up
ACCESS_HINTS = {
    "AccessDeniedException": "the AWS identity lacks this permission: allow ssm:DescribeInstanceInformation, "
                             "ssm:SendCommand, ssm:ListCommandInvocations, ssm:ListCommands, ssm:CancelCommand, "
                             "ssm:GetCommandInvocation (and s3:GetObject on s3-bucket).",
    "UnrecognizedClientException": "the credentials are not valid in this account or region.",
    "ExpiredTokenException": "the credentials expired: configure them in the same job, right before this step.",
}


def aws_error(action: str, exc: Exception) -> ActionError:
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    hint = ACCESS_HINTS.get(code, "see the AWS message above.")
    return ActionError(f"{action} failed", f"AWS refused {action}: {exc}. Likely cause: {hint}",
                       anchor="aws-credentials-and-permissions")


def show_outputs(results: list[InstanceResult]) -> None:
    """Each instance's output (the agent's step lines), folded, after the live timeline."""
    for result in results:
        with runner.group(f"Output of {result.instance_id} ({result.status})"):
            runner.log_verbatim(result.output.rstrip() or result.error or "(no output)")


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
