#!/usr/bin/env python3
"""A rollout behind a load balancer on moto over real HTTP (tests/ssm/fake_ssm.py, tests/ssm/fake_elb.py).

    .venv/bin/python benchmarks/traffic_bench.py [--size 500] [--runs 3]

--size instances (500) in one target group, max-concurrency 10%, one alarm; every
invocation goes Pending -> InProgress -> Success with the real agent's output; the
ALB stand-in keeps a deregistered target draining for 2 answers and a registered
one initial for 1. Printed:
- API calls per poll while a wave's deploy is in flight (ListCommandInvocations
  pages plus the RegisterTargets of the servers that ended in that poll) against
  ceil(in-flight/50) + 2; and per poll of a drain, health or bake wait
  (DescribeTargetHealth, DescribeAlarms);
- the calls each wave adds, by action;
- wall time per wave with target-groups and alarms and without them (pacing that
  does not sleep: what remains is the action's own work and the API round trips),
  the time inside the drain and health waits (their DescribeTargetHealth polls),
  and what target-groups adds per wave beyond those waits (target < 1 s).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moto.cloudwatch.responses import CloudWatchResponse  # noqa: E402

from benchmarks.ssm_bench import NO_SLEEP, fresh_fleet, make_cfg, rollout_quietly  # noqa: E402
from ssm_action.transports.ssm import traffic  # noqa: E402
from tests.ssm import fake_elb, fake_ssm  # noqa: E402
from tests.ssm.agent_runs import real_runs  # noqa: E402

CLOUDWATCH_CALLS: Counter[str] = Counter()
_cloudwatch_call = CloudWatchResponse.call_action
WAITING = [0.0]  # seconds inside the drain and health waits (their polls)
_wait = traffic.Traffic._wait


def timed_wait(self: traffic.Traffic, *args: Any) -> Any:
    start = time.perf_counter()
    try:
        return _wait(self, *args)
    finally:
        WAITING[0] += time.perf_counter() - start


def counted_cloudwatch(self: CloudWatchResponse) -> Any:
    CLOUDWATCH_CALLS[self._get_action()] += 1
    return _cloudwatch_call(self)


def load_balancer(ids: list[str]) -> None:
    elb = boto3.client("elbv2")
    vpc = boto3.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    arn = elb.create_target_group(Name="bench-tg", Protocol="HTTP", Port=8000, VpcId=vpc)["TargetGroups"][0][
        "TargetGroupArn"]
    for start in range(0, len(ids), 500):
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": iid} for iid in ids[start:start + 500]])
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="bench-5xx", MetricName="HTTPCode_Target_5XX_Count",
                                Namespace="AWS/ApplicationELB", Statistic="Sum", Period=60, EvaluationPeriods=1,
                                Threshold=5, ComparisonOperator="GreaterThanThreshold")
    cloudwatch.set_alarm_state(AlarmName="bench-5xx", StateValue="OK", StateReason="bench")


def one_rollout(endpoint: str, workspace: str, size: int, output: str,
                behind: bool) -> tuple[Any, Any, float, float]:
    steps = (fake_ssm.PENDING, fake_ssm.RUNNING, fake_ssm.ran(output))
    fake, ids = fresh_fleet(endpoint, size, *steps)
    elb = fake_elb.reset()
    inputs = {"max_concurrency": "10%"}
    if behind:
        load_balancer(ids)
        fake_elb.reset_timing()
        elb.fleet = set(ids)
        inputs.update(target_groups="bench-tg", alarms="bench-5xx")
    CLOUDWATCH_CALLS.clear()
    WAITING[0] = 0.0
    outcome, start, end = rollout_quietly(make_cfg(workspace, ids, **inputs), NO_SLEEP)
    assert outcome.ok, [r.reason for r in outcome.results if not r.ok][:3]
    return fake, elb, (end - start) / len(outcome.waves), WAITING[0] / len(outcome.waves)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = fake_ssm.start_moto()
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    fake_elb.install()
    CloudWatchResponse.call_action = counted_cloudwatch
    traffic.Traffic._wait = timed_wait  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            listed = real_runs(Path(tmp) / "agent")["success"].stdout
            report(endpoint, tmp, args.size, listed, args.runs)
    finally:
        server.stop()


def report(endpoint: str, workspace: str, size: int, listed: str, runs: int) -> None:
    fake, elb, _, _ = one_rollout(endpoint, workspace, size, listed, behind=True)
    waves = fake.calls["SendCommand"]
    in_flight = math.ceil(size / waves)
    walks = sum(fake.walks.values())
    health_polls = elb.calls["DescribeTargetHealth"] - 1  # less pre-flight's membership read
    alarm_polls = CLOUDWATCH_CALLS["DescribeAlarms"]
    print(f"rollout: {size} instances, 1 target group, 1 alarm, max-concurrency 10% -> {waves} waves of "
          f"{in_flight}; peak out of service {elb.peak_out}")
    per_poll = (fake.calls["ListCommandInvocations"] + elb.calls["RegisterTargets"]) / walks
    print(f"  API calls per poll, deploy in flight: {per_poll:.2f} (ListCommandInvocations "
          f"{fake.calls['ListCommandInvocations'] / walks:.2f} + RegisterTargets "
          f"{elb.calls['RegisterTargets'] / walks:.2f}; target ceil({in_flight}/50)+2 = "
          f"{math.ceil(in_flight / 50) + 2})")
    print(f"  API calls per poll, drain/health wait: 1 DescribeTargetHealth per target group "
          f"({health_polls} polls over {waves} waves: {health_polls / waves:.1f} a wave)")
    print(f"  per wave: SendCommand {fake.calls['SendCommand'] / waves:.1f}, DeregisterTargets "
          f"{elb.calls['DeregisterTargets'] / waves:.1f}, RegisterTargets {elb.calls['RegisterTargets'] / waves:.1f}, "
          f"DescribeTargetHealth {health_polls / waves:.1f}, DescribeAlarms {alarm_polls / waves:.1f} "
          f"(before and after each wave), DescribeInstanceInformation (Online check) "
          f"{(fake.calls['DescribeInstanceInformation'] - math.ceil(size / 50)) / (waves - 1):.1f}")
    with_lb, without, waits, added = [], [], [], []
    for _ in range(runs):
        _, _, per_wave, waiting = one_rollout(endpoint, workspace, size, listed, behind=True)
        plain = one_rollout(endpoint, workspace, size, listed, behind=False)[2]
        with_lb.append(per_wave)
        without.append(plain)
        waits.append(waiting)
        added.append(per_wave - plain - waiting)
    a, b, w = statistics.median(with_lb), statistics.median(without), statistics.median(waits)
    print(f"  wall time per wave (no sleeping, median of {runs}): {a * 1000:.0f} ms with target-groups and alarms, "
          f"{b * 1000:.0f} ms without; of the {(a - b) * 1000:.0f} ms difference, {w * 1000:.0f} ms are the drain "
          f"and health waits' polls; added beyond them: {statistics.median(added) * 1000:.0f} ms a wave "
          "(target < 1000 ms)")


if __name__ == "__main__":
    main()
