"""Accountability for one deploy: a GitHub deployment and an audit record, closed on every path.

run.run() wraps the deploy in track(): however it ends (a result, skipped
gates, an exception, a cancel), the GitHub deployment gets its final status and
the audit record is published, then any exception goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ssm_action.config.sections import DeployConfig
from ssm_action.context import RunContext
from ssm_action.contract import Action
from ssm_action.deploy import audit, notify
from ssm_action.deploy.model import DeployOutcome, Plan, Verdict, verdict
from ssm_action.errors import ActionError, Cancelled
from ssm_action.github import deployment

GITHUB_STATES = {"success": "success", "failure": "failure", "error": "error", "cancelled": "error"}


def error_verdict(exc: BaseException) -> Verdict:
    if isinstance(exc, (Cancelled, KeyboardInterrupt)):
        return Verdict("cancelled",
                       f"Cancelled ({exc or 'interrupted'}) before the deploy finished; targets may be mid-deploy")
    if isinstance(exc, ActionError):
        return Verdict("error", exc.message)
    return Verdict("error", f"{type(exc).__name__}: {exc}")


class Tracker:
    """What run() tells us: the deploy is planned, skipped, or has an outcome."""

    def __init__(self, cfg: DeployConfig, ctx: RunContext, environment: str):
        self.cfg = cfg
        self.ctx = ctx
        self.record = audit.begin(cfg, ctx, environment)
        self.deployment = deployment.Deployment(cfg.github, ctx, environment, cfg.transport, cfg.dry_run)
        if cfg.agent_action is Action.ROLLBACK:
            self.deployment.task = "deploy:rollback"
        self.outcome: DeployOutcome | None = None
        self.skipped = ""

    def planned(self, plan: Plan) -> None:
        """The deploy is about to reach the targets: record the agent sent, create the GitHub deployment."""
        self.record.agent_sha256 = plan.payload.sha256
        self.deployment.start(self.record.targets)

    def done(self, outcome: DeployOutcome) -> DeployOutcome:
        self.outcome = outcome
        if self.cfg.targets.cloudwatch_log_group and outcome.log_url:  # the statuses link to the log streams
            self.deployment.log_url = outcome.log_url
        return outcome

    def skip(self, reason: str) -> None:
        self.skipped = reason

    def close(self, exc: BaseException | None) -> None:
        if self.outcome is not None:  # a known outcome wins over a later error
            final = verdict(self.outcome, self.ctx.sha)
        elif self.skipped:
            final = Verdict("skipped", f"nothing was deployed: {self.skipped}")
        else:
            final = error_verdict(exc or RuntimeError("the deploy ended without a result"))
        if final.result in GITHUB_STATES:
            seconds = deployment.CANCEL_SECONDS if final.result == "cancelled" else deployment.FINAL_SECONDS
            self.deployment.finish(GITHUB_STATES[final.result], final.line, seconds)
        self.record.finish(final, self.outcome, self.deployment.id)
        audit.publish(self.cfg, self.record, self._github_line())
        if not self.cfg.dry_run:
            notify.send(self.cfg.notify_webhook, notify.message(
                self.ctx, self.cfg.agent_action.noun, self.record.environment, final.result, final.line,
                self.outcome.log_url if self.outcome else ""))

    def _github_line(self) -> str:
        github = self.deployment
        if github.id is None:
            return f"not recorded: {github.note or 'nothing reached the targets'}"
        line = f"#{github.id}, status {github.state or 'none'}"
        return f"{line}; {github.note}" if github.note else line


@contextmanager
def track(cfg: DeployConfig, ctx: RunContext, environment: str) -> Iterator[Tracker]:
    tracker = Tracker(cfg, ctx, environment)
    try:
        yield tracker
    except BaseException as exc:  # Cancelled and KeyboardInterrupt too: post the final status, then go on
        tracker.close(exc)
        raise
    tracker.close(None)
