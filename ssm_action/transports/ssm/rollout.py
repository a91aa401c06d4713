"""Rolling waves over the whole fleet, orchestrated by the action (not by SSM's per-command controls).

``max-concurrency`` (N or N%) is the wave size over the fleet pre-flight found;
each wave is sent, followed until every invocation ended (the agent's own health
check is part of a success), and judged before the next starts. ``max-errors``
(N or N%) is one error budget for the fleet: once the failures exceed it, no
further wave starts, the servers not reached are ``NotStarted``, and with
``rollback-fleet-on-failure`` the servers this run updated get the agent's
rollback. Before each wave after the first, its servers are asked for again: one
that went offline is not sent to and counts as a failure.

One wave covering a tag-targeted fleet is sent with the tags (SSM resolves
them); several waves are sent by the instance ids pre-flight resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ssm_action import runner
from ssm_action.config.sections import TargetsConfig
from ssm_action.deploy.model import NOT_STARTED, DeployOutcome, InstanceResult, Wave
from ssm_action.transports.ssm import preflight
from ssm_action.transports.ssm import request as ssm_request

if TYPE_CHECKING:
    from ssm_action.transports.ssm.command import Run

OFFLINE = "Offline"  # the status of a server that went offline before its wave


def _count(spec: str, fleet: int) -> tuple[int, bool]:
    return (fleet * int(spec[:-1]) // 100, True) if spec.endswith("%") else (int(spec), False)


def wave_size(spec: str, fleet: int) -> int:
    """N, or N% of the fleet rounded down; at least 1, at most the fleet."""
    size, _ = _count(spec, fleet)
    return max(1, min(size, fleet))


def error_budget(spec: str, fleet: int) -> int:
    """Failures allowed: N, or N% of the fleet rounded down (0% and 0: none)."""
    return _count(spec, fleet)[0]


def waves_of(ids: list[str], size: int) -> list[list[str]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Rollout:
    """The waves of one run: deploy (or status, rollback) wave by wave, then the fleet rollback if due."""

    def __init__(self, run: Run, cfg: TargetsConfig, base: dict[str, Any], undo: dict[str, Any], action: str):
        self.run = run
        self.cfg = cfg
        self.base = base  # the request without targets
        self.undo = undo  # the same, carrying the agent's rollback
        self.action = action
        self.clock: Callable[[], float] = run.pacing.clock
        self.waves: list[Wave] = []
        self.started = 0.0

    def execute(self, ids: list[str]) -> DeployOutcome:
        size, budget = wave_size(self.cfg.max_concurrency, len(ids)), error_budget(self.cfg.max_errors, len(ids))
        if self.action == "status":  # read only: every target at once, none left unasked
            size, budget = len(ids), len(ids)
        plan = waves_of(ids, size)
        if len(plan) > 1:
            runner.log(f"Rollout: {len(ids)} target(s) in {len(plan)} wave(s) of up to {size} (max-concurrency "
                       f"{self.cfg.max_concurrency}); error budget {budget} (max-errors {self.cfg.max_errors}).")
        self.started = self.clock()
        results: dict[str, InstanceResult] = {}
        failures, stopped_after = 0, 0
        for number, wave_ids in enumerate(plan, 1):
            if stopped_after:
                results.update((iid, self.not_started(iid, stopped_after, budget)) for iid in wave_ids)
                continue
            got = self.wave(number, wave_ids, len(plan) == 1)
            results.update((r.instance_id, r) for r in got)
            failures += sum(not r.ok for r in got)
            if failures > budget and number < len(plan):
                stopped_after = number
                runner.warning(f"{failures} failure(s) after wave {number} of {len(plan)}, over the error budget "
                               f"of {budget} (max-errors {self.cfg.max_errors}): no further wave starts; "
                               f"{len(ids) - sum(map(len, plan[:number]))} target(s) not started.",
                               title="Rollout stopped")
        order = ids + [iid for iid in results if iid not in ids]  # by tag, SSM may add instances
        outcome = DeployOutcome("ssm", [results[iid] for iid in order], action=self.action, waves=self.waves)
        if failures > budget and self.cfg.rollback_fleet_on_failure and self.action == "deploy":
            outcome.fleet_rollback = self.roll_back([r.instance_id for r in outcome.results if r.ok])
        return outcome

    def wave(self, number: int, ids: list[str], whole_fleet: bool, kind: str = "deploy") -> list[InstanceResult]:
        """Send one wave and follow it to the end; its record goes to the timeline."""
        offline: list[InstanceResult] = []
        if number > 1:
            ids, offline = self.still_online(number, ids)
        record = Wave(number, ids + [r.instance_id for r in offline], started=utc_now(),
                      offset=round(self.clock() - self.started, 3), kind=kind)
        began = self.clock()
        base = self.undo if kind == "fleet-rollback" else self.base
        by_tags = whole_fleet and bool(self.cfg.targets) and kind == "deploy"
        requests = ssm_request.for_tags(base, self.cfg) if by_tags else ssm_request.for_ids(base, ids)
        got = self.run.wave(requests, ids) if ids else []
        results = got + offline
        record.ended, record.seconds = utc_now(), round(self.clock() - began, 3)
        record.instance_ids = [r.instance_id for r in results]
        record.succeeded = sum(r.ok for r in results)
        record.failed = len(results) - record.succeeded
        self.waves.append(record)
        what = "Fleet rollback" if kind == "fleet-rollback" else f"Wave {number}"
        runner.log(f"{what}: {len(results)} target(s), {record.succeeded} succeeded, {record.failed} failed "
                   f"({record.seconds:.1f} s).")
        return results

    def still_online(self, number: int, ids: list[str]) -> tuple[list[str], list[InstanceResult]]:
        """The wave's servers SSM still reports Online, and a failed result for each of the others."""
        _, known = preflight.find(self.run.ssm, self.cfg, ids)
        online, offline = [], []
        for iid in ids:
            ping = (known.get(iid) or {}).get("PingStatus", "not registered")
            if ping == "Online":
                online.append(iid)
                continue
            offline.append(InstanceResult(iid, OFFLINE, error=(
                f"went offline before wave {number} (SSM reports {ping}): nothing was sent to it. Start it or "
                "its SSM Agent, then deploy again.")))
            runner.log(f"{iid}: {ping} before wave {number}; not sent.")
        return online, offline

    def not_started(self, iid: str, after: int, budget: int) -> InstanceResult:
        return InstanceResult(iid, NOT_STARTED, error=(
            f"not started: the error budget ({budget}, max-errors {self.cfg.max_errors}) was exceeded in wave "
            f"{after}, so no further wave started. Fix the failure and deploy again."))

    def roll_back(self, updated: list[str]) -> list[InstanceResult]:
        """rollback-fleet-on-failure: the agent's rollback on every server this run updated, all at once."""
        if not updated:
            runner.log("Fleet rollback: no target was updated by this run; nothing to put back.")
            return []
        runner.log(f"Fleet rollback: putting the previous version back on {len(updated)} updated target(s).")
        return self.wave(len(self.waves) + 1, updated, False, kind="fleet-rollback")
