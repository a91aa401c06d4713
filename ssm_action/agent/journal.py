"""The deploy's state: one typed record, journaled so a killed deploy can be recovered.

``journal.json`` in the state folder holds the DeployState of the deploy in
progress, rewritten before each step and after each change that matters to a
recovery. The next deploy reads it back: if the tree was changed (``dirty``) and
that deploy never completed, its ``previous_sha``, backup and discarded changes
are still the last good version's.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ssm_action.agent.files import StateDir, mistyped, safe_relative
from ssm_action.agent.output import utc_now
from ssm_action.agent.layout import JOURNAL

SHA = re.compile(r"[0-9a-f]{40}")
NULL = type(None)
TYPES: Dict[str, Any] = {  # each field's type when read back: a journal that differs is set aside
    "deploy_id": str, "target_sha": str, "pid": int, "started": str, "phase": str, "previous_sha": (str, NULL),
    "previous_start": (dict, NULL), "head": (str, NULL), "old_pid": (int, NULL), "recovering": bool,
    "backup_path": (str, NULL), "discarded": list, "dirty": bool}


def problem(value: Dict[str, Any]) -> str:
    """Why a journal read back cannot be trusted ("" when it can)."""
    value = dict({"deploy_id": None, "target_sha": None}, **value)
    shas = [n for n in ("target_sha", "previous_sha", "head") if value.get(n) and not SHA.fullmatch(str(value[n]))]
    listed = value.get("discarded")
    outside = [p for p in listed if not safe_relative(p)] if isinstance(listed, list) else []
    return mistyped(value, TYPES) or ("%s is not a commit" % shas[0] if shas else "") or (
        "discarded names a path outside the app: %.80r" % outside[0] if outside else "")


@dataclass
class DeployState:
    """What the steps find and do, in the order they do it; the journal's content."""

    deploy_id: str
    target_sha: str
    pid: int = field(default_factory=os.getpid)
    started: str = field(default_factory=utc_now)
    phase: str = ""  # the step running
    previous_sha: Optional[str] = None  # the version a rollback puts back
    previous_start: Optional[Dict[str, Any]] = None  # how it was started (history.started_with)
    head: Optional[str] = None  # HEAD before sync
    old_pid: Optional[int] = None  # the app process running before the deploy
    recovering: bool = False  # taking over from a killed deploy that changed the tree
    backup_path: Optional[str] = None
    discarded: List[str] = field(default_factory=list)  # server-local changes sync drops
    dirty: bool = False  # the work tree may differ from the backup: a failure rolls back

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, value: Any) -> Optional["DeployState"]:
        """A journal read back; None when there is none (or it does not pass ``problem``)."""
        if not isinstance(value, dict) or problem(value):
            return None
        return cls(**{k: v for k, v in value.items() if k in TYPES})

    def interrupted(self, last_good: Dict[str, Any]) -> bool:
        """Killed after it changed the tree, before it recorded its version as good."""
        completed = (last_good.get("deploy_id") == self.deploy_id
                     and last_good.get("sha") == self.target_sha)
        return bool(self.dirty) and not completed


class Journal:
    """The DeployState on disk (only while the deploy holds the lock)."""

    def __init__(self, records: StateDir, state: DeployState) -> None:
        self.records = records
        self.state = state
        self.prior: Optional[DeployState] = None  # what an earlier deploy left behind

    def take_over(self) -> None:
        self.prior = DeployState.from_dict(self.records.read(JOURNAL, problem))

    def save(self) -> None:
        self.records.write(JOURNAL, self.state.to_dict())

    def remove(self) -> None:
        self.records.remove(JOURNAL)
