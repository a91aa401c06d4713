"""Benchmark of the quality gates (issues 3, 8 and 13), on the sample app and on a
generated project with thousands of tests and of findings, all in the same run:

1. concurrent vs one-after-another, with a warm environment: wall times, their ratio
   (target <= 0.6 on 2 cores) and the action's overhead: total minus the shortest time
   the tools alone allow, the best split of the gates' tool times over the CPUs (a gate's
   tool runs whole on one CPU; never less than the slowest gate's tool time or all tool time
   divided by the CPUs) (target < 1 s); the job summary's size (under 1 MiB);
2. setting up: every gate with a venv + pip environment, with uv from an empty cache
   (cold), and with the cached environment (warm). Targets: uv cold <= 40% of pip;
   warm, all nine gates on the sample app < 8 s.

pip-audit queries a local OSV service (tests/gates/osv_server.py). The tools come from
SSM_ACTION_TOOLS (or, as in the tests, .cache/gate-tools-*/bin). Run from the repository:

    python benchmarks/gates_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssm_action import config  # noqa: E402
from ssm_action.gates import report, schedule, tools  # noqa: E402
from tests.gates import osv_server  # noqa: E402

MODULES, FUNCTIONS = 30, 100  # 3,000 helpers, each with its own test and a planted finding
LINT_GATES = ("flake8", "pylint")  # fail on the large project: the findings are planted


def generate_large_project(target: Path) -> Path:
    """The sample app's setup with a generated package of MODULES x FUNCTIONS helpers and their tests."""
    shutil.copytree(ROOT / "examples" / "sample-app", target,
                    ignore=shutil.ignore_patterns(".ssm-action-*", "__pycache__", ".pytest_cache"))
    package = target / "bigapp"
    package.mkdir()
    (package / "__init__.py").write_text('"""Generated helpers for the gates benchmark."""\n')
    for i in range(MODULES):
        (package / f"mod_{i}.py").write_text(_module(i))
        (target / "tests" / f"test_mod_{i}.py").write_text(_tests(i))
    return target


def _module(i: int) -> str:
    parts = [f'"""Generated module {i}: scaling helpers."""\n']
    for j in range(FUNCTIONS):
        limit = 1000 * (i + 1) + j
        parts.append(f'''

def scale_{i}_{j}(value, factor={j + 1}):
    """Scale value by {j + 1} and clamp it to {limit} (module {i})."""
    unused_{j} = factor  # planted: flake8 F841, pylint W0612
    scaled_{j} = value * factor + {i}
    if scaled_{j} > {limit}:
        return {limit}
    return scaled_{j}
''')
    return "".join(parts)


def _tests(i: int) -> str:
    lines = [f'"""Tests of bigapp.mod_{i}."""\n', f"from bigapp import mod_{i}\n"]
    for j in range(FUNCTIONS):
        limit = 1000 * (i + 1) + j
        lines.append(f"\n\ndef test_scale_{i}_{j}():\n")
        lines.append(f"    assert mod_{i}.scale_{i}_{j}(1) == {j + 1 + i}\n")
        lines.append(f"    assert mod_{i}.scale_{i}_{j}(10 ** 6) == {limit}\n")
    return "".join(lines)


def line_count(project: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in project.rglob("*.py") if ".ssm-action" not in str(p))


def make_config(project: Path, cache: Path, osv_url: str) -> config.GatesConfig:
    overrides = {"mode": "gates", "working-directory": str(project), "cache-directory": str(cache),
                 "pip-audit-args": f"-s osv --osv-url {osv_url}", "smoke-imports": "app, store",
                 "required-env": "PATH"}
    cfg, errors = config.parse(config.raw_inputs({}, overrides), env={})
    if cfg is None:
        raise SystemExit(f"bad config: {errors}")
    return cfg.gates


def timed(run: Callable[[], schedule.GatesRun], may_fail: tuple[str, ...] = ()) -> schedule.GatesRun:
    done = run()
    bad = [f"{r.name}={r.state}" for r in done.results
           if r.state not in ("passed", "skipped") and not (r.name in may_fail and r.state == "failed")]
    if bad:
        details = [f"{r.name}: {r.outcome.message}\n{r.log}" for r in done.results
                   if r.state not in ("passed", "skipped")]
        raise SystemExit(f"a gate did not pass: {', '.join(bad)}\n" + "\n".join(details))
    return done


def best_packing(seconds: list[float], cpus: int) -> float:
    """The shortest time the tools alone allow: each gate's tool runs whole on one CPU, so the
    best split of their times over the CPUs (exact while the splits are few), never less than
    the slowest gate's time or all tool time divided by the CPUs."""
    work = sorted((t for t in seconds if t > 0), reverse=True)
    bound = max(max(work, default=0.0), sum(work) / cpus)
    if cpus ** len(work) > 200_000:
        return bound
    best = min(max(sum(t for t, cpu in zip(work, split) if cpu == n) for n in range(cpus))
               for split in itertools.product(range(cpus), repeat=len(work)))
    return max(bound, best)


def concurrency(name: str, project: Path, osv_url: str, rounds: int, may_fail: tuple[str, ...] = ()) -> None:
    cfg = make_config(project, project / ".ssm-action-cache", osv_url)
    timed(lambda: schedule.run_gates(cfg), may_fail)  # warm the environment
    together, alone, overheads = [], [], []
    for _ in range(rounds):
        run = timed(lambda: schedule.run_gates(cfg), may_fail)
        together.append(run.seconds)
        work = [r.tool_seconds for r in run.results]
        overheads.append(run.seconds - best_packing(work, schedule.cpu_count()))
        alone.append(timed(lambda: schedule.run_gates(cfg, workers=1), may_fail).seconds)
    c, s, o = statistics.median(together), statistics.median(alone), statistics.median(overheads)
    slowest = max(run.results, key=lambda r: r.tool_seconds)
    findings = sum(len(r.outcome.findings) for r in run.results)
    size = len(report.summary(cfg, run).encode("utf-8"))
    print(f"{name:<22} concurrent {c:6.2f} s | sequential {s:6.2f} s | ratio {c / s:.2f} (target <= 0.6) | "
          f"overhead {o:.2f} s (target < 1; slowest gate {slowest.name} {slowest.tool_seconds:.2f} s, "
          f"all tools {sum(r.tool_seconds for r in run.results):.2f} s) | "
          f"{findings} findings, summary {size / 1024:.0f} KiB (limit 1024)")


def setup_costs(name: str, project: Path, osv_url: str, rounds: int) -> None:
    figures: dict[str, list[tuple[float, float]]] = {"pip": [], "uv cold": [], "uv warm": []}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="gates-bench-") as scratch:
            for label, installer, cache in (("pip", "pip", "pip-cache"), ("uv cold", "uv", "uv-cache"),
                                            ("uv warm", "uv", "uv-cache")):
                cfg = make_config(project, Path(scratch) / cache, osv_url)  # a new folder: empty caches
                run = timed(lambda: schedule.run_gates(cfg, installer=installer))
                figures[label].append((run.seconds, run.env.seconds if run.env else 0.0))
    medians = {label: (statistics.median(t for t, _ in runs), statistics.median(e for _, e in runs))
               for label, runs in figures.items()}
    pip, cold, warm = medians["pip"][0], medians["uv cold"][0], medians["uv warm"][0]
    print(f"{name:<22} " + " | ".join(f"{label} {total:5.2f} s (env {env:4.2f} s)"
                                      for label, (total, env) in medians.items())
          + f" | uv cold / pip {cold / pip:.2f} (target <= 0.40) | warm {warm:.2f} s (target < 8)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument("--skip-setup", action="store_true", help="only the concurrency figures")
    args = parser.parse_args()
    os.environ.pop("UV_CACHE_DIR", None)  # each cache folder brings its own (cold means empty)
    os.environ.pop("PIP_CACHE_DIR", None)
    if not os.environ.get(tools.TOOLS_VARIABLE):
        found = sorted((ROOT / ".cache").glob("gate-tools-*/bin"))
        if found:
            os.environ[tools.TOOLS_VARIABLE] = str(found[-1])
    print(f"tools: {tools.bin_dir()} | CPUs: {schedule.cpu_count()} | rounds: {args.rounds}")
    server, osv_url = osv_server.start()
    with tempfile.TemporaryDirectory(prefix="gates-bench-") as scratch:
        sample = Path(scratch) / "sample-app"
        shutil.copytree(ROOT / "examples" / "sample-app", sample,
                        ignore=shutil.ignore_patterns(".ssm-action-*", "__pycache__", ".pytest_cache"))
        large = generate_large_project(Path(scratch) / "large-app")
        projects = {f"sample app ({line_count(sample)} lines)": sample,
                    f"large ({line_count(large)} lines)": large}
        print("\n1. concurrent vs sequential (warm environment)")
        for name, project in projects.items():
            concurrency(name, project, osv_url, args.rounds, LINT_GATES if project == large else ())
        if not args.skip_setup:
            print("\n2. environment setup: total gates wall time")
            setup_costs(next(iter(projects)), sample, osv_url, args.rounds)
    server.shutdown()


if __name__ == "__main__":
    main()
