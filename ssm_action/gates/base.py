"""What every gate check gets (GateContext) and the verdict rules they share."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ssm_action.config import GatesConfig as Config  # the gates see only their section
from ssm_action.gates.model import ERROR, FAILED, PASSED, Finding, Outcome
from ssm_action.gates.process import GateLog
from ssm_action.gates.projectenv import EnvError, ProjectEnv

if TYPE_CHECKING:
    from subprocess import CompletedProcess  # nosec B404

# Top-level folders that are never the project's code.
NOT_SOURCES = frozenset({"__pycache__", "node_modules", "build", "dist", "site-packages"})


@dataclass
class GateContext:
    cfg: Config
    log: GateLog
    scratch: Path  # this run's temporary folder, for the tools' reports
    sarif_dir: Path  # where SARIF copies for code scanning go
    repo_prefix: str  # the working directory relative to the repository root ('' at the root)
    targets: tuple[str, ...]  # the project's Python files and folders, for the linters
    project: ProjectEnv | EnvError | None = None

    @property
    def root(self) -> Path:
        return self.cfg.working_directory

    @property
    def env(self) -> ProjectEnv:
        """The project's environment; raises EnvError when it could not be built."""
        if isinstance(self.project, EnvError):
            raise self.project
        if self.project is None:
            raise EnvError("this gate needs the project environment, which was not prepared.")
        return self.project


def python_targets(root: Path, cache_directory: Path) -> tuple[str, ...]:
    """Top-level .py files and folders holding Python code, without hidden folders,
    virtual environments and the gates' cache. Named ./x as in `tool .` runs, so the
    project's exclude patterns match as they do there."""
    found = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name in NOT_SOURCES or entry.name.endswith(".egg-info"):
            continue
        if entry.is_file() and entry.suffix == ".py":
            found.append(f"./{entry.name}")
        elif entry.is_dir() and _holds_code(entry, cache_directory):
            found.append(f"./{entry.name}")
    return tuple(found)


def _holds_code(folder: Path, cache_directory: Path) -> bool:
    if (folder / "pyvenv.cfg").exists() or folder.resolve() == cache_directory:
        return False
    return next(folder.rglob("*.py"), None) is not None


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def why(done: CompletedProcess[str], *, stdout: bool = False) -> str:
    """The tool's last words: its last stderr line (or stdout's), else its exit code."""
    return last_line(done.stderr) or (stdout and last_line(done.stdout)) or f"exit code {done.returncode}"


def conclude(done: CompletedProcess[str], findings: list[Finding] | None, tool: str,
             fail_codes: Collection[int] = (1,)) -> Outcome:
    """The usual verdict: exit 0 passes, a fail code with a readable report fails,
    anything else (a crash, no report, a usage error) is an error."""
    if findings is None:
        return Outcome(ERROR, f"{tool} wrote no report: {why(done, stdout=True)}")
    count = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
    if done.returncode == 0:
        return Outcome(PASSED, f"{count} within the project's limits" if findings else "no findings", findings)
    if done.returncode in fail_codes and findings:
        return Outcome(FAILED, count, findings)
    return Outcome(ERROR, f"{tool} failed (exit code {done.returncode}): {why(done)}", findings)
