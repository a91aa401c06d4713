"""What a transport reports for one target: shared by the local and SSM transports.

The deploy agent (ssm_action/agent.py) ends its output with one line
``SSM_DEPLOY_RESULT {json}``; this module finds and parses it. The agent keeps
its own copy of the prefix (it is shipped alone); a test checks they match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

RESULT_PREFIX = "SSM_DEPLOY_RESULT "

# Agent exit codes (the agent defines the same values).
EXIT_OK = 0
EXIT_FAILED = 1  # failed, previous version NOT restored (no rollback, or it failed)
EXIT_ROLLED_BACK = 2  # failed, previous version restored and healthy
EXIT_BUSY = 3  # another deploy holds the lock
EXIT_BAD_PARAMS = 4  # the parameter object is invalid


def parse_result_line(output: str) -> dict[str, Any] | None:
    """Return the agent's result object: the last result line in ``output``."""
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                value = json.loads(line[len(RESULT_PREFIX):])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


@dataclass
class InstanceResult:
    """The outcome on one target (an EC2 instance, or ``local``)."""

    instance_id: str
    status: str  # SSM invocation status: Success, Failed, TimedOut, Cancelled, ...
    duration: float | None = None  # seconds
    agent: dict[str, Any] | None = None  # parsed result line; None if none came
    output: str = ""  # the agent's stdout (may be cut by SSM)
    error: str = ""  # stderr, or why there is no result
    log_url: str = ""  # where the full output lives (S3 console URL, file path)
    timeline: list[tuple[str, str]] = field(default_factory=list)  # (UTC time, status)

    @property
    def ok(self) -> bool:
        return (
            self.status == "Success"
            and self.agent is not None
            and self.agent.get("status") == "success"
        )

    @property
    def health(self) -> str:
        return (self.agent or {}).get("health") or "unknown"

    @property
    def reason(self) -> str:
        """Why it failed: the agent's error, else the transport's."""
        return (self.agent or {}).get("error") or self.error

    @property
    def rolled_back(self) -> bool:
        return bool(self.agent and self.agent.get("rolled_back"))


@dataclass
class DeployOutcome:
    """What a transport reports for the whole deploy."""

    transport: str  # "ssm" or "local"
    results: list[InstanceResult] = field(default_factory=list)
    command_id: str = ""
    log_url: str = ""  # where the full output is (S3 prefix console URL, or a file)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        if self.dry_run:
            return True
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def failed(self) -> list[InstanceResult]:
        return [r for r in self.results if not r.ok]
