"""What the agent reports: its last line (``RESULT_PREFIX`` + JSON), parsed as ``AgentResult``, and its exit codes."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

RESULT_PREFIX = "SSM_DEPLOY_RESULT "


def result_line(value: Dict[str, Any]) -> str:
    """The agent's last line: the prefix and compact JSON (SSM keeps little of stdout)."""
    return RESULT_PREFIX + json.dumps(value, separators=(",", ":"), sort_keys=True)


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # failed, previous version NOT restored (no rollback, or it failed)
    ROLLED_BACK = 2  # failed, previous version restored and healthy
    BUSY = 3  # another deploy holds the lock
    BAD_PARAMS = 4  # the parameter object is invalid


@dataclass(frozen=True)
class AgentResult:
    """What the agent reports on its last line (``RESULT_PREFIX`` + JSON)."""

    status: str  # success, failed, rolled_back, busy, invalid
    error: Optional[str] = None
    deploy_id: Optional[str] = None
    target_sha: Optional[str] = None
    previous_sha: Optional[str] = None
    running_sha: Optional[str] = None
    backup_path: Optional[str] = None
    health: str = "not_checked"  # healthy, unhealthy, not_checked
    health_code: Optional[int] = None  # the HTTP status the health URL answered (health_status: the accepted ones)
    pid: Optional[int] = None
    log_file: Optional[str] = None
    python: Optional[str] = None  # the server's Python version
    rolled_back: bool = False
    steps: List[Dict[str, Any]] = field(default_factory=list)  # {name, seconds, ok}
    discarded_changes: List[str] = field(default_factory=list)
    # fleet operations: what the agent did, and what status reports
    action: str = "deploy"  # deploy, status or rollback
    since: Optional[str] = None  # when the running app started (UTC)
    last_deploy: Optional[Dict[str, Any]] = None  # {deploy_id, sha, status, action, time, error}
    lock: Optional[str] = None  # who holds the deploy lock; None: free
    warnings: List[str] = field(default_factory=list)  # did not fail the deploy; shown as annotations

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def line(self) -> str:
        return result_line(self.to_dict())

    @classmethod
    def from_dict(cls, value: Any) -> Optional["AgentResult"]:
        """The result, or None when ``value`` is not a result object."""
        if not isinstance(value, dict) or not isinstance(value.get("status"), str):
            return None
        known = {k: v for k, v in value.items() if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except TypeError:
            return None

    @classmethod
    def parse(cls, output: str) -> Optional["AgentResult"]:
        """The last result line in ``output``, parsed; None when there is none."""
        for text in reversed(output.splitlines()):
            if text.startswith(RESULT_PREFIX):
                try:
                    return cls.from_dict(json.loads(text[len(RESULT_PREFIX):]))
                except ValueError:
                    return None
        return None
