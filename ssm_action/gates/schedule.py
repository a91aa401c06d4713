"""Running the selected gates concurrently (at most one per CPU), each with its own
log and deadline. Gates that need the project environment wait for it; the others
start at once. Each result is shown the moment its gate ends, with a heartbeat for the
gates still running; the run's results come back in the canonical gate order."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

from ssm_action import config
from ssm_action.config import GatesConfig as Config  # the gates see only their section
from ssm_action.gates import lint, process, projectenv, sandbox
from ssm_action.gates.base import GateContext, python_targets
from ssm_action.gates.model import ERROR, GateResult, Outcome
from ssm_action.gates.process import GateLog, GateTimeout, ToolMissing
from ssm_action.gates.projectenv import EnvError, ProjectEnv
from ssm_action.gates.registry import GATES

SARIF_FOLDER = ".ssm-action-sarif"
ENV_JOB = "(project environment)"
HEARTBEAT_SECONDS = 15.0
FINDINGS_FILE = "findings.json"
TIMINGS_FILE = "gate-seconds.json"  # in the cache: each gate's last wall time, to order the next run


@dataclass(frozen=True)
class Running:
    """A gate still running, for a heartbeat."""

    name: str
    seconds: float
    progress: str  # e.g. "120 tests done (40%)", or ""


@dataclass
class EnvReport:
    project: ProjectEnv | EnvError
    seconds: float
    log: str


@dataclass
class GatesRun:
    results: list[GateResult]
    env: EnvReport | None
    repo_prefix: str  # the working directory in the repository ('' at its root)
    seconds: float


def repo_root(cfg: Config) -> Path:
    root = config.workspace().resolve()
    return root if cfg.working_directory.is_relative_to(root) else cfg.working_directory


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def run_gates(cfg: Config, *, workers: int | None = None, installer: str | None = None,
              on_env: Callable[[EnvReport], None] = lambda report: None,
              on_result: Callable[[GateResult], None] = lambda result: None,
              on_heartbeat: Callable[[list[Running]], None] = lambda running: None) -> GatesRun:
    """Run every gate of cfg.gates; on_env and on_result see each report as soon as it is
    ready, on_heartbeat the gates running longer than HEARTBEAT_SECONDS, every so often."""
    started = time.monotonic()
    root = repo_root(cfg)
    sarif_dir = root / SARIF_FOLDER
    shutil.rmtree(sarif_dir, ignore_errors=True)  # no stale reports from an earlier run
    projectenv.ignore_all(sarif_dir)
    prefix = cfg.working_directory.relative_to(root).as_posix() if cfg.working_directory != root else ""
    scratch = Path(tempfile.mkdtemp(prefix="ssm-gates-")).resolve()  # give() refuses a path through a link
    try:  # before any of the project's code runs: nothing it does can redirect the hand-over
        box = sandbox.start(cfg.working_directory, scratch)
        projectenv.hand_over(cfg.cache_directory, box)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    shared = _Shared(cfg, scratch, sarif_dir, prefix, python_targets(cfg.working_directory, cfg.cache_directory),
                     installer, box)
    jobs = _Jobs(cfg.gates, _last_seconds(cfg))
    futures: dict[str, Future] = {job: Future() for job in jobs.waiting}
    threads = [threading.Thread(target=_work, args=(jobs, shared, futures), name=f"gate-{n}", daemon=True)
               for n in range(min(workers or cpu_count(), len(futures)))]
    process.allow()
    for thread in threads:
        thread.start()
    try:
        env = _follow(futures, shared.running, on_env, on_result, on_heartbeat)
        results = [futures[name].result() for name in cfg.gates]
    except BaseException:  # cancelled (SIGTERM) or a bug: leave no tool running
        jobs.cancel()
        process.kill_all()
        raise
    finally:
        for thread in threads:
            thread.join()
        shutil.rmtree(shared.scratch, ignore_errors=True)
    _save_seconds(cfg, results)
    return GatesRun(results, env, prefix, time.monotonic() - started)


def _last_seconds(cfg: Config) -> dict[str, float]:
    """How long each gate took in the last run with this cache: the longest start first."""
    try:
        found = json.loads((cfg.cache_directory / TIMINGS_FILE).read_text(encoding="utf-8"))
        return {str(name): float(seconds) for name, seconds in found.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _save_seconds(cfg: Config, results: list[GateResult]) -> None:
    timings = {**_last_seconds(cfg), **{r.name: round(r.seconds, 2) for r in results}}
    try:
        projectenv.ignore_all(cfg.cache_directory)
        (cfg.cache_directory / TIMINGS_FILE).write_text(json.dumps(timings), encoding="utf-8")
    except OSError:
        pass  # only an ordering hint


def _follow(futures: dict[str, Future], running: dict[str, GateLog], on_env: Callable[[EnvReport], None],
            on_result: Callable[[GateResult], None], on_heartbeat: Callable[[list[Running]], None]) -> EnvReport | None:
    """Report each job as it ends; while none ends, a heartbeat of the long-running gates."""
    pending = dict(futures)
    env = None
    while pending:
        finished, _ = wait(list(pending.values()), timeout=HEARTBEAT_SECONDS, return_when=FIRST_COMPLETED)
        if not finished:
            now = time.monotonic()
            slow = [Running(name, now - log.started, log.progress()) for name, log in list(running.items())
                    if now - log.started >= HEARTBEAT_SECONDS]
            if slow:
                on_heartbeat(slow)
            continue
        for name in [name for name, future in pending.items() if future in finished]:
            del pending[name]
            if name == ENV_JOB:
                env = futures[name].result()
                on_env(env)
            else:
                on_result(futures[name].result())
    return env


class _Jobs:
    """What is left to run. A free worker takes the project environment first, then the
    costliest gate that can run: one that needs no environment, or any once it is built
    (so no worker waits while another can work, and the longest gates start first). The
    cost is the gate's time in the last run with this cache, else a rough guess."""

    def __init__(self, gates: tuple[str, ...], seconds: dict[str, float] | None = None):
        needs_env = any(GATES[name].needs_env for name in gates)
        self.waiting = [ENV_JOB] * needs_env + list(gates)
        self.env: EnvReport | None = None
        self.cost = {name: (seconds or {}).get(name, GATES[name].cost) for name in gates}
        self._changed = threading.Condition()

    def take(self) -> str | None:
        with self._changed:
            while self.waiting:
                ready = [job for job in self.waiting if self._ready(job)]
                if ready:
                    job = max(ready, key=lambda job: self.cost[job] if job != ENV_JOB else math.inf)
                    self.waiting.remove(job)
                    return job
                self._changed.wait()
            return None

    def _ready(self, job: str) -> bool:
        return job == ENV_JOB or self.env is not None or not GATES[job].needs_env

    def env_built(self, report: EnvReport) -> None:
        with self._changed:
            self.env = report
            self._changed.notify_all()

    def cancel(self) -> None:
        with self._changed:
            self.waiting.clear()
            self._changed.notify_all()


def _work(jobs: _Jobs, shared: _Shared, futures: dict[str, Future]) -> None:
    while (job := jobs.take()) is not None:
        if job == ENV_JOB:
            report = _prepare_env(shared)
            jobs.env_built(report)
            futures[job].set_result(report)
        else:
            project = jobs.env.project if jobs.env and GATES[job].needs_env else None
            futures[job].set_result(_run_gate(job, shared, project))


@dataclass(frozen=True)
class _Shared:
    """What every gate of one run shares."""

    cfg: Config
    scratch: Path
    sarif_dir: Path
    repo_prefix: str
    targets: tuple[str, ...]
    installer: str | None
    box: sandbox.Sandbox | None = None  # the user the project's code runs as
    running: dict[str, GateLog] = field(default_factory=dict)  # the gates running now


def _prepare_env(shared: _Shared) -> EnvReport:
    log = GateLog(shared.cfg.gate_timeout, shared.box)
    shared.running[ENV_JOB] = log
    started = time.monotonic()
    try:
        project: ProjectEnv | EnvError = projectenv.prepare(shared.cfg, log, shared.installer)
    except EnvError as exc:
        project = exc
    except (GateTimeout, ToolMissing) as exc:
        project = EnvError(str(exc))
    except Exception as exc:  # a bug: the gates that need the environment must not wait forever
        log.note(traceback.format_exc())
        project = EnvError(f"preparing the environment crashed: {type(exc).__name__}: {exc}")
    shared.running.pop(ENV_JOB, None)
    if isinstance(project, EnvError):
        log.note(str(project))
    return EnvReport(project, time.monotonic() - started, log.text)


def _run_gate(name: str, shared: _Shared, project: ProjectEnv | EnvError | None) -> GateResult:
    log = GateLog(shared.cfg.gate_timeout, shared.box)
    shared.running[name] = log
    scratch = sandbox.scratch_folder(shared.scratch, name, shared.box)
    ctx = GateContext(shared.cfg, log, scratch, shared.sarif_dir, shared.repo_prefix, shared.targets, project)
    started = time.monotonic()
    try:
        outcome = GATES[name].check(ctx)
    except EnvError as exc:
        outcome = Outcome(ERROR, f"the project environment could not be built: {str(exc).splitlines()[0]}")
    except (GateTimeout, ToolMissing) as exc:
        outcome = Outcome(ERROR, str(exc))
    except Exception as exc:  # a bug in the check: an error, never a pass
        log.note(traceback.format_exc())
        outcome = Outcome(ERROR, f"the gate crashed: {type(exc).__name__}: {exc}")
    finally:
        shared.running.pop(name, None)
    return GateResult(name, _blocking(name, ctx), outcome, time.monotonic() - started, log.tool_seconds, log.text)


def _blocking(name: str, ctx: GateContext) -> bool:
    if name == "ruff" and "flake8" in ctx.cfg.blocking_gates and lint.ruff_stands_in_for_flake8(ctx):
        return True  # in flake8's place
    return name in ctx.cfg.blocking_gates
