"""Resume on a re-run: the servers that failed last time first, those already running the commit skipped.

A re-run of a workflow (GitHub's run attempt 2 or more) deploys the same commit
again. Before its first wave, the agent's read-only status is asked of every
target (one command): a server that runs this commit and whose health is not
bad is skipped (its status result stands for it), and a server whose last
deploy did not succeed goes first. ``redeploy: true`` deploys to every target
as a first run does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ssm_action import runner
from ssm_action.deploy.model import InstanceResult
from ssm_action.transports.ssm import request as ssm_request

if TYPE_CHECKING:
    from ssm_action.transports.ssm.waves import Run

BAD_HEALTH = ("unhealthy", "unknown")


@dataclass
class Resumed:
    """What the status said: the ids to deploy to, in order, and the servers skipped with why."""

    ids: list[str]
    skipped: dict[str, str] = field(default_factory=dict)  # instance -> why
    status: list[InstanceResult] = field(default_factory=list)  # each target's status before the deploy


def is_rerun(run_attempt: str) -> bool:
    return run_attempt.isdigit() and int(run_attempt) > 1


def current(r: InstanceResult, sha: str) -> bool:
    """The server runs ``sha`` and its health is not bad: a deploy would change nothing."""
    return bool(r.ok and r.agent and r.agent.running_sha == sha and r.health not in BAD_HEALTH)


def failed_last_time(r: InstanceResult) -> bool:
    last = (r.agent.last_deploy if r.agent else None) or {}
    return bool(last) and last.get("status") != "success"


def resume(run: Run, status_base: dict[str, Any], sha: str, ids: list[str]) -> Resumed:
    """One status command to every target, then the order of the deploy."""
    runner.log(f"Re-run of {sha[:12]}: asking the {len(ids)} target(s) for their status first (redeploy: true "
               "deploys to all).")
    answers = {r.instance_id: r for r in run.wave(ssm_request.for_ids(status_base, ids), ids)}
    status = [answers[iid] for iid in ids if iid in answers]
    skipped = {iid: f"already runs {sha[:12]} (health {answers[iid].health}), as its status reported"
               for iid in ids if iid in answers and current(answers[iid], sha)}
    first = [iid for iid in ids if iid not in skipped and iid in answers and failed_last_time(answers[iid])]
    rest = [iid for iid in ids if iid not in skipped and iid not in first]
    if skipped:
        runner.log(f"Skipped {len(skipped)} target(s) already running {sha[:12]}: {', '.join(skipped)}.")
    if first:
        runner.log(f"First, the {len(first)} target(s) whose last deploy failed: {', '.join(first)}.")
    return Resumed(first + rest, skipped, status)
