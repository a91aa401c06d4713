"""The load balancer and the alarms around a rollout's waves: ELBv2 target groups, CloudWatch alarms.

The rollout calls take_out(wave) before sending a wave (deregister its servers
from every listed target group they are in, then wait until none is draining,
at most drain-timeout), ended(results) as each server's deploy ends (one that
runs a working version, new or the old one put back, is registered again at
once), and settle(results) before the next wave (wait until the target groups
report them healthy, at most health-check-timeout; one that never is, or that
ended broken, stays out and fails). A cancel calls restore(): every server this
run took out and has not judged broken is registered again.

Each poll is one DescribeTargetHealth call per target group (its Targets: the
wave's servers) and one DescribeAlarms call per 100 alarms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ssm_action import runner
from ssm_action.config.sections import TrafficConfig
from ssm_action.deploy.model import InstanceResult
from ssm_action.errors import ActionError
from ssm_action.transports.ssm.wait import Pacing

POLL = 5.0  # seconds between polls: an ALB's shortest health check interval
ALARMS_PER_CALL = 100  # DescribeAlarms AlarmNames: at most 100
UNHEALTHY = "Unhealthy"  # the status of a server whose deploy ended but that the load balancer never found healthy


@dataclass
class Group:
    """One target group, and its servers as registered before this run (Id and Port, as ELBv2 takes them)."""

    arn: str
    name: str
    delay: int  # deregistration_delay.timeout_seconds
    members: dict[str, dict[str, Any]] = field(default_factory=dict)


def bad_input(name: str, value: str, why: str, fix: str) -> ActionError:
    return ActionError(f"Invalid input {name}", f"{name}: {value} {why}. Fix: {fix}. Nothing was sent.",
                       anchor="load-balancer-and-alarms")


def first_wave_size(spec: str, fleet: int, size: int) -> int:
    """first-wave over the fleet (N, or N% rounded down, at least 1); max-concurrency's size when empty."""
    if not spec:
        return size
    if spec.endswith("%"):
        return max(1, fleet * int(spec[:-1]) // 100)
    if int(spec) > fleet:
        raise bad_input("first-wave", spec, f"is larger than the fleet pre-flight found ({fleet} target(s))",
                        f"give at most {fleet}, or a percentage such as 10%")
    return int(spec)


class Traffic:
    """Target groups and alarms for one run: called between waves, and between the polls of a wave."""

    def __init__(self, elb: Any, cloudwatch: Any, cfg: TrafficConfig, health_timeout: int, pacing: Pacing):
        self.elb = elb
        self.cloudwatch = cloudwatch
        self.cfg = cfg
        self.health_timeout = health_timeout
        self.pacing = pacing
        self.groups: list[Group] = []
        self.out: dict[str, list[Group]] = {}  # taken out by this run and not put back
        self.kept_out: dict[str, str] = {}  # left out on purpose: instance -> why

    # -- pre-flight: every name known to AWS before anything is sent

    def check(self, ids: list[str]) -> None:
        with runner.group("Pre-flight: target groups and alarms"):
            self.groups = [self._group(given) for given in self.cfg.target_groups]
            for group in self.groups:
                self._members(group, ids)
            outside = [iid for iid in ids if not any(iid in g.members for g in self.groups)]
            if self.groups and outside:
                runner.warning(f"{len(outside)} target(s) are registered in none of the target groups "
                               f"({', '.join(outside[:5])}{'...' if len(outside) > 5 else ''}): they are deployed "
                               "without being taken out of service.", title="Not behind the load balancer")
            if self.cfg.alarms:
                states = self.alarm_states()
                missing = [name for name in self.cfg.alarms if name not in states]
                if missing:
                    raise bad_input("alarms", ", ".join(missing), "does not exist in CloudWatch in this region",
                                    "give the alarm names exactly as CloudWatch shows them")
                runner.log("Alarms: " + ", ".join(f"{name} {state}" for name, state in states.items()))

    def _group(self, given: str) -> Group:
        key = {"TargetGroupArns": [given]} if given.startswith("arn:") else {"Names": [given]}
        try:
            found = self.elb.describe_target_groups(**key)["TargetGroups"][0]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TargetGroupNotFound":
                raise
            raise bad_input("target-groups", given, "is not a target group in this account and region",
                            "give the target group's name or ARN as the EC2 console shows it") from exc
        attributes = self.elb.describe_target_group_attributes(TargetGroupArn=found["TargetGroupArn"])["Attributes"]
        delay = int(next((a["Value"] for a in attributes if a["Key"] == "deregistration_delay.timeout_seconds"), 300))
        if delay > self.cfg.drain_timeout:
            runner.warning(f"Target group {found['TargetGroupName']} waits {delay} s for requests to drain "
                           f"(deregistration_delay.timeout_seconds), longer than drain-timeout {self.cfg.drain_timeout}"
                           " s: requests still in flight after drain-timeout may fail. Lower the delay or raise "
                           "drain-timeout.", title="Drain longer than drain-timeout")
        return Group(found["TargetGroupArn"], found["TargetGroupName"], delay)

    def _members(self, group: Group, ids: list[str]) -> None:
        fleet = set(ids)
        for item in self.elb.describe_target_health(TargetGroupArn=group.arn)["TargetHealthDescriptions"]:
            target = item["Target"]
            if target["Id"] in fleet and item["TargetHealth"]["State"] not in ("unused", "draining"):
                group.members[target["Id"]] = {k: v for k, v in target.items() if k in ("Id", "Port")}
        runner.log(f"Target group {group.name}: {len(group.members)} of the {len(ids)} target(s) registered; "
                   f"deregistration delay {group.delay} s.")

    # -- a wave: out, deploy, back in

    def take_out(self, ids: list[str]) -> None:
        """Deregister ``ids`` wherever registered, then wait until none is draining (at most drain-timeout)."""
        for group in self.groups:
            targets = [group.members[iid] for iid in ids if iid in group.members]
            if targets:
                self.elb.deregister_targets(TargetGroupArn=group.arn, Targets=targets)
                for target in targets:
                    self.out.setdefault(target["Id"], []).append(group)
        taken = [iid for iid in ids if iid in self.out]
        if not taken:
            return
        runner.log(f"Load balancer: {len(taken)} target(s) deregistered; waiting for them to drain "
                   f"(drain-timeout {self.cfg.drain_timeout} s).")
        left = self._wait(taken, lambda state: state != "draining", self.cfg.drain_timeout)
        if left:
            runner.warning(f"{', '.join(sorted(left))} still draining after drain-timeout {self.cfg.drain_timeout} s; "
                           "deploying anyway: requests still in flight on them may fail.", title="Drain timed out")

    def ended(self, results: list[InstanceResult]) -> None:
        """As deploys end: a server running a working version goes back in at once; a broken one stays out.

        The servers that ended in the same poll go back in one RegisterTargets call per target group."""
        back: list[str] = []
        for r in results:
            if r.instance_id not in self.out:
                continue
            if working(r):
                back.append(r.instance_id)
            else:
                self.keep_out(r.instance_id, "its deploy ended without a working version")
        for group in self.groups:
            targets = [group.members[iid] for iid in back if group in self.out[iid]]
            if targets:
                self.elb.register_targets(TargetGroupArn=group.arn, Targets=targets)
        for iid in back:
            runner.log(f"{iid}: registered again in {', '.join(g.name for g in self.out[iid])}.")

    def settle(self, results: list[InstanceResult]) -> list[InstanceResult]:
        """Wait until the servers put back are healthy everywhere; one that is not fails and is taken out again."""
        back = [r.instance_id for r in results if r.instance_id in self.out]
        if not back:
            return results
        left = self._wait(back, lambda state: state == "healthy", self.health_timeout)
        for iid in back:
            if iid not in left:
                del self.out[iid]
        return [self.unhealthy(r, left[r.instance_id]) if r.instance_id in left else r for r in results]

    def unhealthy(self, r: InstanceResult, where: list[str], when: str = "") -> InstanceResult:
        """The result of a server the load balancer does not find healthy; it is taken out again."""
        when = when or f"within health-check-timeout {self.health_timeout} s"
        why = (f"registered again in {', '.join(where)} but not healthy there {when}; taken out of service "
               "again. Check the target group's health check path and port against the app.")
        for group in self.groups:
            if r.instance_id in group.members:
                self.elb.deregister_targets(TargetGroupArn=group.arn, Targets=[group.members[r.instance_id]])
        self.keep_out(r.instance_id, why)
        return replace(r, status=UNHEALTHY, error=why)

    def keep_out(self, iid: str, why: str) -> None:
        self.out.pop(iid, None)
        self.kept_out[iid] = why
        runner.log(f"{iid}: stays out of service ({why}).")

    def restore(self) -> list[str]:
        """A cancel or an error: every server this run took out (and did not judge broken) goes back, no wait."""
        back = list(self.out)
        for iid in back:
            for group in self.out.pop(iid):
                try:
                    self.elb.register_targets(TargetGroupArn=group.arn, Targets=[group.members[iid]])
                except (ClientError, BotoCoreError) as exc:
                    runner.warning(f"Could not register {iid} again in {group.name} ({exc}): register it in the "
                                   "EC2 console.", title="Register failed")
        if back:
            runner.log(f"Stopped early: {', '.join(back)} registered again in the target groups.")
        return back

    # -- health and alarms

    def states(self, ids: Iterable[str]) -> dict[tuple[str, str], str]:
        """(instance, target group name) -> the target's state, one call per target group."""
        wanted = set(ids)
        found: dict[tuple[str, str], str] = {}
        for group in self.groups:
            targets = [group.members[iid] for iid in group.members if iid in wanted]
            if not targets:
                continue
            answer = self.elb.describe_target_health(TargetGroupArn=group.arn, Targets=targets)
            for item in answer["TargetHealthDescriptions"]:
                found[(item["Target"]["Id"], group.name)] = item["TargetHealth"]["State"]
        return found

    def _wait(self, ids: list[str], done: Callable[[str], bool], timeout: float) -> dict[str, list[str]]:
        """Poll until every (server, group) state is done; what is left at the timeout: instance -> groups."""
        deadline = self.pacing.clock() + timeout
        while True:
            left: dict[str, list[str]] = {}
            for (iid, group), state in self.states(ids).items():
                if not done(state):
                    left.setdefault(iid, []).append(group)
            now = self.pacing.clock()
            if not left or now >= deadline:
                return left
            self.pacing.sleep(min(POLL, deadline - now))

    def alarm_states(self) -> dict[str, str]:
        names, states = list(self.cfg.alarms), {}
        for start in range(0, len(names), ALARMS_PER_CALL):
            answer = self.cloudwatch.describe_alarms(AlarmNames=names[start:start + ALARMS_PER_CALL],
                                                     AlarmTypes=["MetricAlarm", "CompositeAlarm"])
            for alarm in answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", []):
                states[alarm["AlarmName"]] = alarm["StateValue"]
        return states

    def alarming(self) -> list[str]:
        if not self.cfg.alarms:
            return []
        return sorted(name for name, state in self.alarm_states().items() if state == "ALARM")

    def bake(self, seconds: float, ids: list[str]) -> tuple[list[str], dict[str, list[str]]]:
        """Wait ``seconds``, polling the alarms and the wave's target health: (alarms in ALARM, unhealthy servers)."""
        deadline = self.pacing.clock() + seconds
        while True:
            alarms = self.alarming()
            sick = self._sick(ids)
            now = self.pacing.clock()
            if alarms or sick or now >= deadline:
                return alarms, sick
            self.pacing.sleep(min(POLL, deadline - now))

    def _sick(self, ids: list[str]) -> dict[str, list[str]]:
        sick: dict[str, list[str]] = {}
        for (iid, group), state in self.states(ids).items():
            if state not in ("healthy", "unused", "draining"):
                sick.setdefault(iid, []).append(group)
        return sick


def working(r: InstanceResult) -> bool:
    """The server runs a version that works: the new one, or the previous one the agent put back."""
    return r.ok or (r.rolled_back and r.health != "unhealthy")
