"""Accountability for one deploy: a GitHub deployment and an audit record, closed on every path.

deploy.run() wraps the deploy in track(): however it ends (a result, skipped
gates, an exception, a cancel), the GitHub deployment gets its final status and
the audit record is published, then any exception goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ssm_action import audit, deployments
from ssm_action.config import Config
from ssm_action.context import RunContext
from ssm_action.errors import ActionError, Cancelled
from ssm_action.results import DeployOutcome

GITHUB_STATES = {"success": "success", "failure": "failure", "error": "error", "cancelled": "error"}


def outcome_verdict(outcome: DeployOutcome, ctx: RunContext) -> tuple[str, str]:
    """(audit result, one-line summary), e.g. ("failure", "2/3 instances failed; rolled back")."""
    if outcome.dry_run:
        return "dry_run", "dry run: nothing was sent to the servers"
    total = len(outcome.results)
    if outcome.ok:
        return "success", f"Deployed {ctx.sha[:12]} to {total}/{total} target(s)"
    if not total:
        return "failure", "no target ran the deploy"
    failed = len(outcome.failed)
    rolled = sum(r.rolled_back for r in outcome.failed)
    back = "rolled back" if rolled == failed else f"{rolled} rolled back" if rolled else "not rolled back"
    return "failure", f"{failed}/{total} target(s) failed; {back}"


def error_verdict(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, (Cancelled, KeyboardInterrupt)):
        return "cancelled", f"Cancelled ({exc or 'interrupted'}) before the deploy finished; targets may be mid-deploy"
    if isinstance(exc, ActionError):
        return "error", exc.message
    return "error", f"{type(exc).__name__}: {exc}"


class Tracker:
    """What run() tells us: the deploy starts, is skipped, or has an outcome."""

    def __init__(self, cfg: Config, ctx: RunContext, environment: str):
        self.cfg = cfg
        self.ctx = ctx
        self.record = audit.begin(cfg, ctx, environment)
        self.deployment = deployments.Deployment(cfg, ctx, environment)
        self.outcome: DeployOutcome | None = None
        self.skipped = ""

    def start(self) -> None:
        """The deploy is about to reach the targets: create the GitHub deployment, in_progress."""
        self.deployment.start(self.record.targets)

    def done(self, outcome: DeployOutcome) -> DeployOutcome:
        self.outcome = outcome
        return outcome

    def skip(self, reason: str) -> None:
        self.skipped = reason

    def close(self, exc: BaseException | None) -> None:
        if self.outcome is not None:  # a known outcome wins over a later error
            result, summary = outcome_verdict(self.outcome, self.ctx)
        elif self.skipped:
            result, summary = "skipped", f"nothing was deployed: {self.skipped}"
        else:
            result, summary = error_verdict(exc or RuntimeError("the deploy ended without a result"))
        if result in GITHUB_STATES:
            seconds = deployments.CANCEL_SECONDS if result == "cancelled" else deployments.FINAL_SECONDS
            self.deployment.finish(GITHUB_STATES[result], summary, seconds)
        self.record.finish(result, summary, self.outcome, self.deployment.id)
        audit.publish(self.cfg, self.record, self._github_line())

    def _github_line(self) -> str:
        github = self.deployment
        if github.id is None:
            return f"not recorded: {github.note or 'nothing reached the targets'}"
        line = f"#{github.id}, status {github.state or 'none'}"
        return f"{line}; {github.note}" if github.note else line


@contextmanager
def track(cfg: Config, ctx: RunContext, environment: str) -> Iterator[Tracker]:
    tracker = Tracker(cfg, ctx, environment)
    try:
        yield tracker
    except BaseException as exc:  # Cancelled and KeyboardInterrupt too: post the final status, then go on
        tracker.close(exc)
        raise
    tracker.close(None)
