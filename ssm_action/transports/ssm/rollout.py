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

Behind a load balancer (``target-groups``) or watched by ``alarms``, traffic.py
takes each wave out of service before it is sent and puts each server back as
its deploy ends; ``first-wave`` sizes the first wave (1: a canary), ``bake-time``
waits after each wave. An alarm in ALARM before a wave, after it or during the
bake stops the rollout as an exceeded error budget does, and fails the run.
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
from ssm_action.transports.ssm.resume import resume
from ssm_action.transports.ssm.traffic import Traffic, first_wave_size

if TYPE_CHECKING:
    from ssm_action.transports.ssm.waves import Run

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


def waves_of(ids: list[str], size: int, first: int = 0) -> list[list[str]]:
    """The waves: the first of ``first`` (when given), the others of ``size``."""
    head = [ids[:first]] if first else []
    rest = ids[first:]
    return head + [rest[start:start + size] for start in range(0, len(rest), size)]


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
        self.traffic: Traffic | None = None  # target groups and alarms, when given
        self.size = 0
        self.stopped = ""  # why no further wave starts: the error budget, or an alarm
        self.resume_from: tuple[dict[str, Any], str] | None = None  # a re-run: the status request, the commit
        self.partial = False

    def execute(self, fleet: list[str]) -> DeployOutcome:
        ids, resumed = fleet, None
        if self.resume_from:
            resumed = resume(self.run, *self.resume_from, fleet)
            ids = resumed.ids
        size, budget = wave_size(self.cfg.max_concurrency, len(ids)), error_budget(self.cfg.max_errors, len(ids))
        first = 0
        if self.action == "status":  # read only: every target at once, none left unasked
            size, budget = len(ids), len(ids)
        elif self.cfg.traffic.first_wave and ids:
            first = min(first_wave_size(self.cfg.traffic.first_wave, len(fleet), size), len(ids))
        self.size = size
        self.partial = len(ids) < len(fleet)  # a re-run skipped some: never send by tags (SSM would reach them)
        plan = waves_of(ids, size, first)
        if self.traffic and self.cfg.traffic.target_groups and len(plan[0] if plan else []) == len(ids) > 1:
            runner.warning(f"One wave takes all {len(ids)} target(s) out of service at once: the load balancer has "
                           "no server to send requests to until they are back. Set max-concurrency (and first-wave) "
                           "below the fleet's size, e.g. 25%.", title="Whole fleet out of service")
        if len(plan) > 1:
            runner.log(f"Rollout: {len(ids)} target(s) in {len(plan)} wave(s) of up to {size} (max-concurrency "
                       f"{self.cfg.max_concurrency}{f', first wave {first}' if first else ''}); error budget "
                       f"{budget} (max-errors {self.cfg.max_errors}).")
        self.started = self.clock()
        try:
            results, failures = self.waves_in_turn(plan, budget)
        except BaseException:  # a cancel, or an AWS call refused: no server left out of service by this run
            if self.traffic:
                self.traffic.restore()
            raise
        if resumed:  # a skipped server's status result stands for it
            results.update((r.instance_id, r) for r in resumed.status if r.instance_id in resumed.skipped)
        order = fleet + [iid for iid in results if iid not in fleet]  # by tag, SSM may add instances
        outcome = DeployOutcome("ssm", [results[iid] for iid in order], action=self.action, waves=self.waves,
                                stopped_by=self.stopped if self.stopped.startswith("alarm") else "")
        if resumed:
            outcome.skipped, outcome.status_before = resumed.skipped, resumed.status
        if (failures > budget or outcome.stopped_by) and self.cfg.rollback_fleet_on_failure \
                and self.action == "deploy":
            outcome.fleet_rollback = self.roll_back([r.instance_id for r in outcome.results
                                                     if r.ok and r.instance_id not in outcome.skipped])
        return outcome

    def waves_in_turn(self, plan: list[list[str]], budget: int) -> tuple[dict[str, InstanceResult], int]:
        """Each wave after the one before has ended (and baked); none once the budget is exceeded or an alarm rang."""
        results: dict[str, InstanceResult] = {}
        failures = 0
        for number, wave_ids in enumerate(plan, 1):
            if not self.stopped:
                self.alarm(f"before wave {number}")
            if self.stopped:
                results.update((iid, self.not_started(iid)) for iid in wave_ids)
                continue
            got = self.wave(number, wave_ids, len(plan) == 1 and not self.partial)
            if number < len(plan) and self.action == "deploy":
                got = self.bake(number, got)
            elif self.action == "deploy":
                self.alarm(f"after wave {number}")
            results.update((r.instance_id, r) for r in got)
            failures += sum(not r.ok for r in got)
            if failures > budget and number < len(plan) and not self.stopped:
                self.stopped = (f"the error budget ({budget}, max-errors {self.cfg.max_errors}) was exceeded in "
                                f"wave {number}")
                runner.warning(f"{failures} failure(s) after wave {number} of {len(plan)}, over the error budget "
                               f"of {budget} (max-errors {self.cfg.max_errors}): no further wave starts; "
                               f"{sum(map(len, plan[number:]))} target(s) not started.",
                               title="Rollout stopped")
        return results, failures

    def alarm(self, when: str) -> bool:
        """An alarm in ALARM stops the rollout: named in the log, an annotation and the summary.

        A deploy only: mode rollback must go on while the alarms ring (they may be why it runs)."""
        alarms = self.traffic.alarming() if self.traffic and self.action == "deploy" else []
        if alarms:
            self.stop_for_alarms(alarms, when)
        return bool(alarms)

    def stop_for_alarms(self, alarms: list[str], when: str) -> None:
        self.stopped = f"alarm {', '.join(alarms)} in ALARM {when}"
        runner.error(f"CloudWatch alarm {', '.join(alarms)} in ALARM {when}: the rollout stops, no further wave "
                     "starts and the run fails.", title="Rollout stopped by an alarm")

    def bake(self, number: int, got: list[InstanceResult]) -> list[InstanceResult]:
        """bake-time after a wave, watching the alarms and the wave's target health; the alarms after the wave."""
        seconds = self.cfg.traffic.bake_time
        if not self.traffic:
            if seconds:
                runner.log(f"Bake: {seconds} s after wave {number}.")
                self.run.pacing.sleep(seconds)
                self.waves[-1].bake = float(seconds)
            return got
        if self.alarm(f"after wave {number}"):
            return got
        if seconds:
            runner.log(f"Bake: {seconds} s after wave {number}, watching the alarms and the target health.")
        began = self.clock()
        alarms, sick = self.traffic.bake(seconds, [r.instance_id for r in got if r.ok])
        self.waves[-1].bake = round(self.clock() - began, 3)
        if alarms:
            self.stop_for_alarms(alarms, f"during the bake after wave {number}")
        when = f"during the bake after wave {number}"
        return [self.traffic.unhealthy(r, sick[r.instance_id], when) if r.instance_id in sick else r for r in got]

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
        if self.traffic:
            self.traffic.take_out(ids)
            record.drain = round(self.clock() - began, 3)
        got = self.run.wave(requests, ids) if ids else []
        if self.traffic:
            sent_back = self.clock()
            got = self.traffic.settle(got)
            record.settle = round(self.clock() - sent_back, 3)
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

    def not_started(self, iid: str) -> InstanceResult:
        return InstanceResult(iid, NOT_STARTED, error=(
            f"not started: {self.stopped}, so no further wave started. Fix the failure and deploy again."))

    def roll_back(self, updated: list[str]) -> list[InstanceResult]:
        """rollback-fleet-on-failure: the agent's rollback on every server this run updated, all at once."""
        if not updated:
            runner.log("Fleet rollback: no target was updated by this run; nothing to put back.")
            return []
        runner.log(f"Fleet rollback: putting the previous version back on {len(updated)} updated target(s).")
        # behind a load balancer, in waves: never more out of service than a wave
        chunks = waves_of(updated, self.size) if self.traffic and self.cfg.traffic.target_groups else [updated]
        return [r for chunk in chunks for r in self.wave(len(self.waves) + 1, chunk, False, kind="fleet-rollback")]
