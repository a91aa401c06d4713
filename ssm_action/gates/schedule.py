"""Running the selected gates concurrently (at most one per CPU), each with its own
log and deadline. Gates that need the project environment wait for it; the others
start at once. Results come back in the canonical gate order."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ssm_action.config import Config
from ssm_action.gates import process, projectenv
from ssm_action.gates.base import GateContext, last_line, python_targets
from ssm_action.gates.model import ERROR, GateResult, Outcome
from ssm_action.gates.process import GateLog, GateTimeout, ToolMissing
from ssm_action.gates.projectenv import EnvError, ProjectEnv
from ssm_action.gates.registry import GATES, start_order

SARIF_FOLDER = ".ssm-action-sarif"


@dataclass
class EnvReport:
    project: ProjectEnv | EnvError
    seconds: float
    log: str


@dataclass
class GatesRun:
    results: list[GateResult]
    env: EnvReport | None
    repo_root: Path  # GITHUB_WORKSPACE (or the current folder), for annotation and SARIF paths
    sarif_dir: Path
    seconds: float


def repo_root(cfg: Config) -> Path:
    root = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    return root if cfg.working_directory.is_relative_to(root) else cfg.working_directory


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def run_gates(cfg: Config, *, workers: int | None = None, installer: str | None = None,
              on_env: Callable[[EnvReport], None] = lambda report: None,
              on_result: Callable[[GateResult], None] = lambda result: None) -> GatesRun:
    """Run every gate of cfg.gates; on_env and on_result see each report as soon as it is
    its turn in the canonical order."""
    started = time.monotonic()
    root = repo_root(cfg)
    sarif_dir = root / SARIF_FOLDER
    shutil.rmtree(sarif_dir, ignore_errors=True)  # no stale reports from an earlier run
    prefix = cfg.working_directory.relative_to(root).as_posix() if cfg.working_directory != root else ""
    shared = _Shared(cfg, Path(tempfile.mkdtemp(prefix="ssm-gates-")), sarif_dir, prefix,
                     python_targets(cfg.working_directory, cfg.cache_directory))
    order = start_order(cfg.gates)
    independent = [name for name in order if not GATES[name].needs_env]
    pool = ThreadPoolExecutor(max_workers=workers or cpu_count(), thread_name_prefix="gate")
    try:
        env_future = pool.submit(_prepare_env, cfg, installer) if len(independent) < len(order) else None
        futures = {name: pool.submit(_run_gate, name, shared, None) for name in independent}
        env = env_future.result() if env_future else None
        if env:
            on_env(env)
            # Submitted only now, so that no worker sits waiting while the environment is built.
            futures.update({name: pool.submit(_run_gate, name, shared, env.project)
                            for name in order if name not in futures})
        results = []
        for name in cfg.gates:
            results.append(futures[name].result())
            on_result(results[-1])
    except BaseException:  # cancelled (SIGTERM) or a bug: leave no tool running
        process.kill_all()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        shutil.rmtree(shared.scratch, ignore_errors=True)
    return GatesRun(results, env, root, sarif_dir, time.monotonic() - started)


@dataclass(frozen=True)
class _Shared:
    """What every gate of one run shares."""

    cfg: Config
    scratch: Path
    sarif_dir: Path
    repo_prefix: str
    targets: tuple[str, ...]


def _prepare_env(cfg: Config, installer: str | None) -> EnvReport:
    log = GateLog(cfg.gate_timeout)
    started = time.monotonic()
    try:
        project: ProjectEnv | EnvError = projectenv.prepare(cfg, log, installer)
    except EnvError as exc:
        project = exc
    except (GateTimeout, ToolMissing) as exc:
        project = EnvError(str(exc))
    if isinstance(project, EnvError):
        log.note(str(project))
    return EnvReport(project, time.monotonic() - started, log.text)


def _run_gate(name: str, shared: _Shared, project: ProjectEnv | EnvError | None) -> GateResult:
    log = GateLog(shared.cfg.gate_timeout)
    scratch = shared.scratch / name
    scratch.mkdir()
    ctx = GateContext(shared.cfg, log, scratch, shared.sarif_dir, shared.repo_prefix, shared.targets, project)
    started = time.monotonic()
    try:
        outcome = GATES[name].check(ctx)
    except EnvError as exc:
        outcome = Outcome(ERROR, f"the project environment could not be built: {last_line(str(exc))}")
    except (GateTimeout, ToolMissing) as exc:
        outcome = Outcome(ERROR, str(exc))
    except Exception as exc:  # a bug in the check: an error, never a pass
        log.note(traceback.format_exc())
        outcome = Outcome(ERROR, f"the gate crashed: {type(exc).__name__}: {exc}")
    return GateResult(name, name in shared.cfg.blocking_gates, outcome, time.monotonic() - started,
                      log.tool_seconds, log.text)
