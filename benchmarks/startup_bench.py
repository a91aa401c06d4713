#!/usr/bin/env python3
"""How fast a bad input is reported, and how fast the container starts.

    .venv/bin/python benchmarks/startup_bench.py [--runs N] [--no-container]

Prints: the config-error time of the CLI, the container's time from `podman run`
to its first line and to exit, and the image size.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import containers  # noqa: E402


def first_line_and_exit(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter() - start
    proc.communicate()
    return first, time.perf_counter() - start


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms (min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-container", action="store_true")
    args = parser.parse_args()
    cli = [first_line_and_exit([sys.executable, "-m", "ssm_action", "--mode", "bogus"]) for _ in range(args.runs)]
    print(f"CLI config error, first line:   {median_ms([c[0] for c in cli])}")
    print(f"CLI config error, exit:         {median_ms([c[1] for c in cli])}")
    if args.no_container:
        return
    image = containers.build_image()
    env = containers.podman_env()
    with tempfile.TemporaryDirectory() as ws:
        cmd = ["podman", "run", "--rm", "--workdir", "/github/workspace", "-v", f"{ws}:/github/workspace",
               "-e", "GITHUB_ACTIONS=true", "-e", "INPUT_MODE=bogus", image]
        runs = [first_line_and_exit(cmd, env) for _ in range(args.runs)]
        bare = [first_line_and_exit(["podman", "run", "--rm", "--entrypoint", "echo", image, "x"], env)
                for _ in range(args.runs)]
    size = subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", image], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = statistics.median(r[1] for r in runs)
    floor = statistics.median(b[1] for b in bare)
    print(f"container start -> first line:  {median_ms([r[0] for r in runs])}")
    print(f"container config error, exit:   {median_ms([r[1] for r in runs])}")
    print(f"podman run of `echo` (floor):   {median_ms([b[1] for b in bare])}")
    print(f"our share of the exit time:     {(ours - floor) * 1000:.0f} ms ({ours / floor:.2f}x the floor)")
    print(f"image size:                     {int(size) / 1e6:.0f} MB ({image})")


if __name__ == "__main__":
    main()
