"""What a gate reports: its state, findings, log and timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"

# Severity orders findings (most severe first) across tools.
HIGH, MEDIUM, LOW, INFO = 3, 2, 1, 0


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the working directory; "" when the finding has no file
    line: int | None
    col: int | None
    code: str  # rule id (F401, B602, W0611), test id or package name
    message: str
    severity: int = MEDIUM


@dataclass
class Outcome:
    """What a gate's check concluded (the scheduler adds name, blocking and timings)."""

    state: str
    message: str
    findings: list[Finding] = field(default_factory=list)
    sarif: Path | None = None
    coverage: float | None = None


@dataclass
class GateResult:
    name: str
    blocking: bool
    outcome: Outcome
    seconds: float = 0.0  # wall time of the gate
    tool_seconds: float = 0.0  # time spent in its tools' processes
    log: str = ""

    @property
    def state(self) -> str:
        return self.outcome.state

    @property
    def fails_step(self) -> bool:
        return self.blocking and self.state in (FAILED, ERROR)
