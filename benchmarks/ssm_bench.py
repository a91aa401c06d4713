#!/usr/bin/env python3
"""The SSM transport against moto over real HTTP (extended by tests/ssm/fake_ssm.py).

    .venv/bin/python benchmarks/ssm_bench.py [--sizes 1,10,100,500] [--runs 3]

For each fleet size N it prints:
- API calls per poll cycle (ListCommandInvocations pages + ListCommands) against
  the target ceil(N/50) + 1, with invocations going Pending -> InProgress -> Success,
  by instance id (ceil(N/50) commands) and by tag (one command, plus ListCommands);
- the wall time of the SSM transport's run() from start to verdict when every invocation is
  already terminal at the first poll (pre-flight, SendCommand, one walk, results),
  with the agent's real output: "listed" when the listing (2,500 characters)
  holds the result line, "fetched" when it was cut and each instance's output is
  read back with GetCommandInvocation. Target: under 3 s for 100 instances.
Then a rollout of --rollout instances (500) in waves of 10% (max-concurrency 10%):
- API calls per poll while a wave is in flight (ListCommandInvocations pages) against
  ceil(in-flight/50) + 1, and the calls each wave adds (SendCommand, the Online check);
- the time from the last invocation's end (the first listing that shows it ended) to
  the verdict, with every instance's output fetched (cut in the listing), target < 1 s;
- the orchestration overhead per wave: a rollout whose invocations end at the first
  poll, no sleeping, its wall time divided by the waves.
Invocations carry the real agent's output, from a real run through the bootstrap.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from ssm_action import config, runner  # noqa: E402
from ssm_action.deploy import plan  # noqa: E402
from ssm_action.deploy.model import DeployOutcome  # noqa: E402
from ssm_action.transports.ssm import SsmTransport  # noqa: E402
from ssm_action.transports.ssm.wait import Pacing  # noqa: E402
from tests import factories  # noqa: E402
from tests.ssm import fake_ssm  # noqa: E402
from tests.ssm.agent_runs import real_runs  # noqa: E402
from tests.ssm.conftest import BASE_INPUTS, CTX  # noqa: E402


def make_cfg(workspace: str, instance_ids: list[str], by_tag: bool = False, **inputs: str) -> config.DeployConfig:
    targets = {"targets": "tag:App=bench"} if by_tag else {"instance_ids": ",".join(instance_ids)}
    return factories.deploy_config(Path(workspace), **{**BASE_INPUTS, **targets, **inputs})


def fresh_fleet(endpoint: str, size: int, *steps: fake_ssm.Step,
                by_tag: bool = False) -> tuple[fake_ssm.FakeSSM, list[str]]:
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    fake = fake_ssm.reset()
    ids = [f"i-{n:017x}" for n in range(1, size + 1)]
    if by_tag:  # SSM (moto) resolves tags through EC2: real tagged instances
        tags = [{"ResourceType": "instance", "Tags": [{"Key": "App", "Value": "bench"}]}]
        made = boto3.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=size, MaxCount=size,
                                                 TagSpecifications=tags)
        ids = [i["InstanceId"] for i in made["Instances"]]
    for iid in ids:
        fake.register(iid, tags={"App": "bench"})
        fake.plan(iid, *steps)
    return fake, ids


def deploy_quietly(cfg: config.DeployConfig, pacing: Pacing | None = None) -> tuple[bool, float]:
    outcome, start, end = rollout_quietly(cfg, pacing)
    return outcome.ok, end - start


def rollout_quietly(cfg: config.DeployConfig, pacing: Pacing | None = None) -> tuple[DeployOutcome, float, float]:
    """The outcome, and perf_counter at the start and at the verdict."""
    runner.reset()
    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            start = time.perf_counter()
            outcome = SsmTransport(pacing=pacing).run(plan.build(cfg, CTX, "production"))
            return outcome, start, time.perf_counter()
        finally:
            sys.stdout = stdout


NO_SLEEP = Pacing(sleep=lambda seconds: None)


def rollout(endpoint: str, workspace: str, size: int, listed: str, cut: str, runs: int) -> None:
    """500 instances in waves of 10%: calls per poll, last end to verdict, overhead per wave."""
    inputs = {"max_concurrency": "10%", "max_errors": "100%"}  # every wave runs, even with failures
    steps = (fake_ssm.PENDING, fake_ssm.RUNNING, fake_ssm.ran(listed))
    fake, ids = fresh_fleet(endpoint, size, *steps)
    outcome, _, _ = rollout_quietly(make_cfg(workspace, ids, **inputs), NO_SLEEP)
    waves, polls = len(outcome.waves), sum(fake.walks.values())
    in_flight = math.ceil(size / waves)
    assert outcome.ok and fake.peak_in_flight == in_flight, (outcome.ok, fake.peak_in_flight)
    print(f"\nrollout: {size} instances, max-concurrency 10% -> {waves} waves of {in_flight}, "
          f"peak in flight {fake.peak_in_flight}")
    print(f"  API calls per poll: {fake.calls['ListCommandInvocations'] / polls:.1f} "
          f"(target ceil({in_flight}/50)+1 = {math.ceil(in_flight / 50) + 1}); per wave also "
          f"{fake.calls['SendCommand'] / waves:.1f} SendCommand and "
          f"{(fake.calls['DescribeInstanceInformation'] - math.ceil(size / 50)) / (waves - 1):.1f} "
          "DescribeInstanceInformation (the Online check)")
    latencies, overheads = [], []
    for _ in range(runs):
        fake, ids = fresh_fleet(endpoint, size, fake_ssm.ran(cut, code=2))
        outcome, _, verdict_at = rollout_quietly(make_cfg(workspace, ids, **inputs), NO_SLEEP)
        assert len(outcome.waves) == waves and fake.calls["GetCommandInvocation"] == size
        latencies.append(verdict_at - max(fake.ended_at.values()))
        fake, ids = fresh_fleet(endpoint, size, fake_ssm.ran(listed))
        outcome, start, end = rollout_quietly(make_cfg(workspace, ids, **inputs), NO_SLEEP)
        assert outcome.ok
        overheads.append((end - start) / waves)
    print(f"  last invocation's end to verdict, outputs fetched: {statistics.median(latencies):.3f} s "
          f"(target < 1 s; ratio {statistics.median(latencies) / 1.0:.2f})")
    print(f"  orchestration overhead per wave of {in_flight}: {statistics.median(overheads) * 1000:.0f} ms "
          f"(send, Online check, one walk, results; median of {runs})")


def calls_per_poll(endpoint: str, workspace: str, size: int, output: str, by_tag: bool = False) -> tuple[float, int]:
    steps = (fake_ssm.PENDING, fake_ssm.RUNNING, fake_ssm.ran(output))
    fake, ids = fresh_fleet(endpoint, size, *steps, by_tag=by_tag)
    ok, _ = deploy_quietly(make_cfg(workspace, ids, by_tag), Pacing(sleep=lambda seconds: None))
    polls = max(fake.walks.values())
    listing = fake.calls["ListCommandInvocations"] + fake.calls["ListCommands"]
    assert ok and polls == len(steps), (ok, polls)
    return listing / polls, fake.calls["SendCommand"]


def time_to_verdict(endpoint: str, workspace: str, size: int, output: str, code: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        fake, ids = fresh_fleet(endpoint, size, fake_ssm.ran(output, code=code))
        ok, seconds = deploy_quietly(make_cfg(workspace, ids))
        assert ok == (code == 0) and fake.calls["ListCommandInvocations"] == math.ceil(size / 50)
        times.append(seconds)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,100,500")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rollout", type=int, default=500, help="instances in the rollout (waves of 10%%)")
    args = parser.parse_args()
    server = fake_ssm.start_moto()
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            agent = real_runs(Path(tmp) / "agent")
            listed, cut = agent["success"].stdout, agent["rolled_back"].stdout
            print(f"agent output: success {len(listed)} chars (listing holds it), "
                  f"rolled_back {len(cut)} chars (cut at 2,500: fetched)\n")
            print(f"{'N':>5} {'sends':>5} {'calls/poll':>10} {'by tag':>6} {'target':>6} {'ratio':>5} "
                  f"{'verdict listed':>14} {'verdict fetched':>15} {'per instance':>12}")
            for size in (int(n) for n in args.sizes.split(",")):
                per_poll, sends = calls_per_poll(endpoint, tmp, size, listed)
                tagged, _ = calls_per_poll(endpoint, tmp, size, listed, by_tag=True)
                target = math.ceil(size / 50) + 1
                fast = time_to_verdict(endpoint, tmp, size, listed, 0, args.runs)
                slow = time_to_verdict(endpoint, tmp, size, cut, 2, args.runs)
                print(f"{size:>5} {sends:>5} {per_poll:>10.1f} {tagged:>6.1f} {target:>6} "
                      f"{max(per_poll, tagged) / target:>5.2f} {fast:>13.2f}s {slow:>14.2f}s "
                      f"{slow / size * 1000:>10.1f}ms")
            rollout(endpoint, tmp, args.rollout, listed, cut, args.runs)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
