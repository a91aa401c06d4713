#!/usr/bin/env python3
"""Draw a rollout's waves as an SVG timeline, from a run's ``waves-json`` output or from a demo run.

    .venv/bin/python scripts/rollout_timeline.py --waves waves.json --not-started 10 -o timeline.svg
    .venv/bin/python scripts/rollout_timeline.py            # the demo: writes docs/images/rollout-timeline.svg
    .venv/bin/python scripts/rollout_timeline.py --alb      # behind a load balancer: rollout-timeline-alb.svg

The demo runs the action's real rollout (SsmTransport, waves, fleet rollback) against
moto over HTTP extended by tests/ssm/fake_ssm.py, with the deploy agent's real output:
40 servers, max-concurrency 25%, max-errors 0, a failure in wave 3,
rollback-fleet-on-failure. Its waves are also written next to the SVG as JSON.
The --alb demo adds a target group (moto's ELBv2 with the ALB timing stand-in,
tests/ssm/fake_elb.py) and an alarm, on a simulated clock: 10 servers, a canary,
then waves of 3 with a 60 s bake; the alarm rings during wave 3, the updated
servers are put back. Each wave's drain, healthy-again and bake are drawn.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs/images/rollout-timeline.svg"
COLOURS = {"ok": "#2da44e", "failed": "#cf222e", "rollback": "#bf8700", "not started": "#afb8c1",
           "drain": "#8250df", "settle": "#0969da", "bake": "#d0d7de"}
WIDTH, LEFT, ROW, TOP = 760, 190, 34, 46
RIGHT = 150  # room right of the longest bar for its label


def phases(wave: dict[str, Any], x: float, y: float, scale: float) -> list[str]:
    """Behind a load balancer: the drain at the bar's start, healthy-again at its end, the bake after it."""
    out = []
    spans = (("drain", 0.0, wave.get("drain", 0)),
             ("settle", wave["seconds"] - wave.get("settle", 0), wave.get("settle", 0)),
             ("bake", wave["seconds"], wave.get("bake", 0)))
    for kind, start, seconds in spans:
        if seconds > 0:
            width = max(2.0, seconds * scale)
            out.append(f'<rect x="{x + start * scale:.1f}" y="{y + 6}" width="{width:.1f}" height="{ROW - 12}" '
                       f'rx="3" fill="{COLOURS[kind]}"><title>{kind} {seconds:.0f} s</title></rect>')
    return out


def svg(waves: list[dict[str, Any]], not_started: int, title: str,
        stopped: str = "error budget exceeded") -> str:
    """One row per wave (a bar from its start to its end), then a row for the servers not started."""
    end = max([w["offset"] + w["seconds"] + w.get("bake", 0) for w in waves] + [1.0])
    scale = (WIDTH - LEFT - RIGHT) / end
    rows = len(waves) + (1 if not_started else 0)
    legend = any(w.get("drain") or w.get("bake") for w in waves)
    height = TOP + rows * ROW + 40 + (26 if legend else 0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
           f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
           f'<text x="12" y="24" font-size="15" font-weight="bold">{html.escape(title)}</text>']
    if legend:  # the load balancer's phases, under the axis
        for n, (kind, text) in enumerate((("drain", "drain"), ("settle", "healthy again"), ("bake", "bake"))):
            x = LEFT + n * 130
            out += [f'<rect x="{x}" y="{height - 24}" width="12" height="12" rx="2" fill="{COLOURS[kind]}"/>',
                    f'<text x="{x + 17}" y="{height - 13}" fill="#57606a">{text}</text>']
    for n, wave in enumerate(waves):
        y = TOP + n * ROW
        kind = "rollback" if wave["kind"] == "fleet-rollback" else "failed" if wave["failed"] else "ok"
        name = "Fleet rollback" if kind == "rollback" else f"Wave {wave['number']}"
        x, w = LEFT + wave["offset"] * scale, max(2.0, wave["seconds"] * scale)
        detail = f"{wave['succeeded']} ok" + (f", {wave['failed']} failed" if wave["failed"] else "")
        out += [f'<text x="12" y="{y + 21}">{html.escape(name)} ({len(wave["instance_ids"])})</text>',
                f'<rect x="{x:.1f}" y="{y + 6}" width="{w:.1f}" height="{ROW - 12}" rx="3" fill="{COLOURS[kind]}"/>',
                *phases(wave, x, y, scale)]
        label_x = x + w + wave.get("bake", 0) * scale + 6
        out.append(f'<text x="{label_x:.1f}" y="{y + 21}" fill="#57606a">{html.escape(detail)}, '
                   f'{wave["seconds"]:.1f} s</text>')
    if not_started:
        y = TOP + len(waves) * ROW
        out += [f'<text x="12" y="{y + 21}">Not started ({not_started})</text>',
                f'<rect x="{LEFT}" y="{y + 6}" width="{WIDTH - LEFT - RIGHT}" height="{ROW - 12}" rx="3" '
                f'fill="none" stroke="{COLOURS["not started"]}" stroke-dasharray="5 4"/>',
                f'<text x="{LEFT + 8}" y="{y + 21}" fill="#57606a">{html.escape(stopped)}: no further wave started'
                '</text>']
    axis_y = TOP + rows * ROW + 8
    out.append(f'<line x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}" stroke="#8c959f"/>')
    step = max(1, round(end / 6))
    for second in range(0, int(end) + 1, step):
        x = LEFT + second * scale
        out += [f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 5}" stroke="#8c959f"/>',
                f'<text x="{x:.1f}" y="{axis_y + 20}" text-anchor="middle" fill="#57606a">{second} s</text>']
    out.append("</svg>")
    return "\n".join(out) + "\n"


def demo() -> tuple[list[dict[str, Any]], int]:
    """A real rollout on moto: the waves and how many servers were not started."""
    sys.path.insert(0, str(ROOT))
    from ssm_action import runner
    from ssm_action.deploy import plan
    from ssm_action.transports.ssm import SsmTransport
    from ssm_action.transports.ssm.wait import Pacing
    from tests import factories
    from tests.ssm import fake_ssm
    from tests.ssm.agent_runs import real_runs
    from tests.ssm.conftest import BASE_INPUTS, CTX

    server = fake_ssm.start_moto()
    fake = fake_ssm.reset()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = real_runs(Path(tmp) / "agent")
            line = {name: run.stdout.strip().splitlines()[-1] for name, run in runs.items()}
            ids = [f"i-{n:017x}" for n in range(1, 41)]
            for n, iid in enumerate(ids):
                fake.register(iid, tags={"App": "web"})
                running = [fake_ssm.RUNNING] * (1 + n % 4)  # servers take different times
                fake.plan(iid, fake_ssm.PENDING, *running, fake_ssm.ran(line["success"]))
                fake.then(iid, fake_ssm.RUNNING, fake_ssm.ran(line["rollback"]))
            fake.plan(ids[24], fake_ssm.PENDING, fake_ssm.RUNNING, fake_ssm.ran(line["failed"], code=1))
            cfg = factories.deploy_config(Path(tmp), **{**BASE_INPUTS, "targets": "tag:App=web",
                                                        "max_concurrency": "25%", "max_errors": "0",
                                                        "rollback_fleet_on_failure": "true"})
            runner.reset()
            pacing = Pacing(first=0.4, factor=1.5, cap=1.0)
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # the run's own log
                outcome = SsmTransport(pacing=pacing).run(plan.build(cfg, CTX, "production"))
    finally:
        server.stop()
    return [w.to_dict() for w in outcome.waves], len(outcome.not_started)


def alb_demo() -> tuple[list[dict[str, Any]], int, str]:
    """The rollout behind a target group, with a canary, a bake and an alarm that rings in wave 3."""
    sys.path.insert(0, str(ROOT))
    import boto3

    from ssm_action import runner
    from ssm_action.deploy import plan
    from ssm_action.transports.ssm import SsmTransport
    from ssm_action.transports.ssm.wait import Pacing
    from tests import factories
    from tests.ssm import fake_elb, fake_ssm
    from tests.ssm.agent_runs import real_runs
    from tests.ssm.conftest import BASE_INPUTS, CTX

    server = fake_ssm.start_moto()
    fake_elb.install()
    fake = fake_ssm.reset()
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if fake.calls["SendCommand"] == 3:  # 5xx while wave 3 deploys
            boto3.client("cloudwatch").set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="demo")

    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = real_runs(Path(tmp) / "agent")
            line = {name: run.stdout.strip().splitlines()[-1] for name, run in runs.items()}
            ids = [f"i-{n:017x}" for n in range(1, 11)]
            for n, iid in enumerate(ids):
                fake.register(iid, platform="Linux")
                fake.plan(iid, fake_ssm.PENDING, *[fake_ssm.RUNNING] * (3 + n % 3), fake_ssm.ran(line["success"]))
                fake.then(iid, fake_ssm.RUNNING, fake_ssm.RUNNING, fake_ssm.ran(line["rollback"]))
            elb = boto3.client("elbv2")
            vpc = boto3.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            arn = elb.create_target_group(Name="web-tg", Protocol="HTTP", Port=8000, VpcId=vpc)["TargetGroups"][0][
                "TargetGroupArn"]
            elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": iid} for iid in ids])
            cloudwatch = boto3.client("cloudwatch")
            cloudwatch.put_metric_alarm(AlarmName="web-5xx", MetricName="HTTPCode_Target_5XX_Count",
                                        Namespace="AWS/ApplicationELB", Statistic="Sum", Period=60,
                                        EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
            cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="OK", StateReason="demo")
            fake_elb.reset_timing()
            timing = fake_elb.FAKE
            timing.drain_polls, timing.initial_polls = 3, 2
            cfg = factories.deploy_config(Path(tmp), **{**BASE_INPUTS, "platform": "linux", "app_directory": "/srv/web",
                                                        "instance_ids": ",".join(ids), "first_wave": "1",
                                                        "max_concurrency": "3", "bake_time": "60",
                                                        "target_groups": "web-tg", "alarms": "web-5xx",
                                                        "rollback_fleet_on_failure": "true"})
            runner.reset()
            pacing = Pacing(first=2.0, factor=1.5, cap=10.0, clock=lambda: now[0], sleep=sleep)
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                outcome = SsmTransport(pacing=pacing).run(plan.build(cfg, CTX, "production"))
    finally:
        server.stop()
    return [w.to_dict() for w in outcome.waves], len(outcome.not_started), outcome.stopped_by


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waves", help="a run's waves-json output (a file); default: run the demo")
    parser.add_argument("--not-started", type=int, default=0, help="with --waves: the not-started-ids count")
    parser.add_argument("--alb", action="store_true", help="the demo behind a load balancer, with an alarm")
    parser.add_argument("-o", "--output", default="")
    args = parser.parse_args()
    args.output = args.output or str(OUT.with_name("rollout-timeline-alb.svg") if args.alb else OUT)
    stopped = "error budget exceeded"
    if args.waves:
        waves, not_started = json.loads(Path(args.waves).read_text(encoding="utf-8")), args.not_started
    elif args.alb:
        waves, not_started, stopped = alb_demo()
        Path(args.output).with_suffix(".json").write_text(
            json.dumps({"waves": waves, "not_started": not_started}, indent=1) + "\n", encoding="utf-8")
    else:
        waves, not_started = demo()
        Path(args.output).with_suffix(".json").write_text(
            json.dumps({"waves": waves, "not_started": not_started}, indent=1) + "\n", encoding="utf-8")
    deploys = sum(w["kind"] == "deploy" for w in waves)
    title = f"Rollout: {deploys} wave(s), {sum(len(w['instance_ids']) for w in waves if w['kind'] == 'deploy')}" \
            f" server(s) reached, {not_started} not started"
    Path(args.output).write_text(svg(waves, not_started, title, stopped), encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
