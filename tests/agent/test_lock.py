"""The deploy lock on this machine's real flock: one holder, a named owner, stale owners."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssm_action.agent.errors import Busy
from ssm_action.agent.files import StateDir
from ssm_action.agent.layout import OWNER
from ssm_action.agent.lock import DeployLock
from ssm_action.agent.posix import PosixPlatform


def test_one_holder_and_the_second_is_told_who(tmp_path: Path):
    records = StateDir(str(tmp_path))
    first, second = DeployLock(records, PosixPlatform()), DeployLock(records, PosixPlatform())
    assert first.take("1-1") == "acquired" and first.held
    with pytest.raises(Busy, match=r"another deploy \(1-1, pid \d+, since .+\) is running"):
        second.take("2-1")
    assert not second.held
    first.release()
    assert not first.held and not (tmp_path / OWNER).exists()
    assert second.take("2-1") == "acquired"
    second.release()


def test_a_dead_owner_is_taken_over_and_half_written_records_removed(tmp_path: Path):
    (tmp_path / OWNER).write_text(json.dumps({"deploy_id": "old-1", "pid": 123}))
    (tmp_path / "journal.json.77.tmp").write_text("{half")
    lock = DeployLock(StateDir(str(tmp_path)), PosixPlatform())
    assert lock.take("3-1") == "took over a stale lock: deploy old-1 (pid 123) is gone"
    assert not (tmp_path / "journal.json.77.tmp").exists()
    assert json.loads((tmp_path / OWNER).read_text())["deploy_id"] == "3-1"
    lock.release()
