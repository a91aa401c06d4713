"""The rollout's waves for people: a Mermaid timeline (GitHub draws it in the job summary) and a table.

The timeline's labels are built here from numbers only, so nothing from a server
or an input reaches the diagram's syntax.
"""

from __future__ import annotations

import math

from ssm_action import summary
from ssm_action.deploy.model import DeployOutcome, Wave

COLUMNS = ("wave", "started (UTC)", "seconds", "targets", "succeeded", "failed")


def name(wave: Wave) -> str:
    return "Fleet rollback" if wave.kind == "fleet-rollback" else f"Wave {wave.number}"


def label(wave: Wave) -> str:
    """e.g. "Wave 3 (9 ok, 1 failed)": no colon, which would end a Mermaid task's name."""
    return f"{name(wave)} ({wave.succeeded} ok" + (f", {wave.failed} failed)" if wave.failed else ")")


def mermaid(waves: list[Wave]) -> str:
    """A gantt chart in seconds from the rollout's start (a failed wave in red)."""
    lines = ["gantt", "    title Rollout (seconds from the first wave)", "    dateFormat X", "    axisFormat %M:%S"]
    for wave in waves:
        start = math.floor(wave.offset)
        end = max(start + 1, math.ceil(wave.offset + wave.seconds))
        tag = "crit" if wave.failed else "done"
        lines += phase(wave, "drain", wave.offset, wave.drain, len(lines))
        lines.append(f"    {label(wave)} :{tag}, w{len(lines)}, {start}, {end}")
        lines += phase(wave, "healthy again", wave.offset + wave.seconds - wave.settle, wave.settle, len(lines))
        lines += phase(wave, "bake", wave.offset + wave.seconds, wave.bake, len(lines))
    return "\n".join(lines)


def phase(wave: Wave, what: str, offset: float, seconds: float, number: int) -> list[str]:
    """A load balancer phase of a wave (drain, healthy again, bake) as its own bar; none when it took no time."""
    if seconds <= 0:
        return []
    start = math.floor(offset)
    return [f"    {name(wave)} {what} :active, w{number}, {start}, {max(start + 1, math.ceil(offset + seconds))}"]


def markdown(outcome: DeployOutcome) -> str:
    """The waves section of the summary; empty for a one-wave run without a fleet rollback."""
    waves = outcome.waves
    if len(waves) < 2:
        return ""
    rows = [[summary.escape(name(w)), summary.escape(w.started[11:19]), f"{w.seconds:.1f}",
             str(len(w.instance_ids)), str(w.succeeded), str(w.failed)] for w in waves]
    if outcome.not_started:
        rows.append(["not started", "-", "-", str(len(outcome.not_started)), "-", "-"])
    return (summary.headline("", f"Rollout: {sum(w.kind == 'deploy' for w in waves)} wave(s)", level=3) + "\n"
            + summary.fenced(mermaid(waves), "mermaid") + "\n" + summary.table(COLUMNS, rows))
