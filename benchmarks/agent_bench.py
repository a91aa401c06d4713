#!/usr/bin/env python3
"""The deploy agent's own cost, its backup speed, and the zipapp it ships as.

    .venv/bin/python benchmarks/agent_bench.py [--runs N] [--installer uv|pip] [--no-backup]

Prints: the zipapp's build time (once per action run), its size, its size xz-compressed and
base64-encoded as the SSM bootstraps carry it, and its start-up (to a refusal, exit 4);
for redeploys of the test suite's sample app (a git repo, a venv, a real process and an
HTTP health check on 127.0.0.1), the wall time of the agent, the time in the
dependency install and in app start-up (start + verify, with start_grace 0), and the
agent's overhead = wall - install - start-up (target: under 1 s); then the backup time
of app trees of 10 MB and 100 MB (half source-like text, half incompressible bytes).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess  # nosec B404 # runs the zipapp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssm_action import payload  # noqa: E402
from ssm_action.agent.backups import make_backup  # noqa: E402
from ssm_action.contract import ExitCode  # noqa: E402
from ssm_action.transports.ssm import bootstrap  # noqa: E402
from tests.agent.agent_fixtures import (  # noqa: E402
    Server, build_wheel, kill_processes_under, uv_folder)

TARGET_OVERHEAD = 1.0


def step_seconds(result: dict, *names: str) -> float:
    return sum(s["seconds"] for s in result["steps"] if s["name"] in names)


def zipapp() -> None:
    times = []
    for _ in range(20):
        started = time.perf_counter()
        agent = payload.build_from(payload.PACKAGE_ROOT)
        times.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        pyz = str(payload.write(tmp))
        starts = []
        for _ in range(20):  # Python start, imports from the zip, parameters refused: exit 4
            started = time.perf_counter()
            subprocess.run([sys.executable, pyz, "--params-b64", "e30="], capture_output=True)
            starts.append(time.perf_counter() - started)
    print(f"zipapp {agent.filename} ({len(agent.members)} members):")
    print(f"  build (median of 20)           {statistics.median(times) * 1000:7.1f} ms")
    print(f"  size                           {len(agent.data):7,} bytes")
    carried = base64.b64encode(bootstrap.pack(agent.data))
    print(f"  xz+base64 (in the request)     {len(carried):7,} bytes "
          f"= {len(carried) / len(agent.data):.2f} of the zipapp")
    print(f"  start-up to exit 4 (median)    {statistics.median(starts) * 1000:7.0f} ms")


def redeploys(runs: int, installer: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = Server(root / "srv", build_wheel(root), uv_folder(root / "uv"))
        try:
            first = server.deploy(server.commit("v0"), installer=installer, start_grace=0)
            assert first.code == ExitCode.OK, first.out
            rows = []
            for n in range(1, runs + 1):
                sha = server.commit(f"v{n}")
                started = time.perf_counter()
                run = server.deploy(sha, installer=installer, start_grace=0)
                wall = time.perf_counter() - started
                assert run.code == ExitCode.OK, run.out
                install = step_seconds(run.result, "deps")
                startup = step_seconds(run.result, "start", "verify")
                rows.append((wall, install, startup, wall - install - startup, run.result))
        finally:
            kill_processes_under(root)
    overhead = statistics.median(r[3] for r in rows)
    print(f"redeploys of the sample app ({installer}, {runs} runs, medians):")
    for label, index in (("agent wall time", 0), ("dependency install", 1),
                         ("app start-up (start+verify)", 2), ("agent overhead", 3)):
        print(f"  {label:<30} {statistics.median(r[index] for r in rows) * 1000:7.0f} ms")
    for name in ("lock", "record", "backup", "sync", "pre-stop", "stop", "post-start"):
        seconds = statistics.median(step_seconds(r[4], name) for r in rows)
        print(f"    step {name:<25} {seconds * 1000:7.0f} ms")
    print(f"  overhead / {TARGET_OVERHEAD:g} s target:          {overhead / TARGET_OVERHEAD:7.2f}")


def make_tree(root: Path, megabytes: int) -> None:
    """``megabytes`` of 100 kB files: half repetitive text, half random bytes."""
    text = (b"def handler(request):\n    return render(request, 'page.html', {'n': 1})\n" * 1400)
    for n in range(megabytes * 10):
        folder = root / f"pkg{n % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        data = text[:100_000] if n % 2 else os.urandom(100_000)
        (folder / f"file{n}.{'py' if n % 2 else 'bin'}").write_bytes(data)


def backups() -> None:
    print("backups (zip, deflate level 1):")
    timings = {}
    for megabytes in (10, 100):
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "app"
            make_tree(tree, megabytes)
            dest = Path(tmp) / "backup.zip"
            started = time.perf_counter()
            make_backup(str(tree), str(dest), {"head": None}, skip=[])
            seconds = timings[megabytes] = time.perf_counter() - started
            size = dest.stat().st_size / 1e6
        print(f"  {megabytes:>3} MB tree: {seconds:6.2f} s  ({megabytes / seconds:5.0f} MB/s, "
              f"archive {size:5.1f} MB = {size / megabytes:.2f} of the tree)")
    print(f"  100 MB / 10 MB time ratio: {timings[100] / timings[10]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--installer", choices=("uv", "pip"), default="uv")
    parser.add_argument("--no-backup", action="store_true")
    args = parser.parse_args()
    zipapp()
    redeploys(args.runs, args.installer)
    if not args.no_backup:
        backups()


if __name__ == "__main__":
    main()
