"""The deploy's typed state: written to journal.json, read back by the next deploy."""

from __future__ import annotations

import json
from pathlib import Path

from ssm_action.agent.files import StateDir
from ssm_action.agent.journal import DeployState, Journal
from ssm_action.agent.layout import JOURNAL


def test_the_journal_reads_back_what_it_wrote(tmp_path: Path):
    state = DeployState("7-1", "a" * 40, phase="sync", previous_sha="b" * 40,
                        backup_path="/b.zip", discarded=["config.txt"], dirty=True)
    Journal(StateDir(str(tmp_path)), state).save()
    journal = Journal(StateDir(str(tmp_path)), DeployState("8-1", "c" * 40))
    journal.take_over()
    assert journal.prior == state
    journal.remove()
    assert not (tmp_path / JOURNAL).exists()


def test_a_journal_of_the_single_file_agent_reads_back(tmp_path: Path):
    old = {"deploy_id": "5-1", "pid": 99, "target_sha": "a" * 40, "started": "2026-01-01T00:00:00Z",
           "phase": "deps", "previous_sha": "b" * 40, "backup_path": None, "discarded": [],
           "dirty": True}
    (tmp_path / JOURNAL).write_text(json.dumps(old))
    journal = Journal(StateDir(str(tmp_path)), DeployState("6-1", "c" * 40))
    journal.take_over()
    assert journal.prior is not None
    assert (journal.prior.phase, journal.prior.previous_sha, journal.prior.dirty) == (
        "deps", "b" * 40, True)


def test_no_journal_or_a_broken_one_is_none(tmp_path: Path):
    journal = Journal(StateDir(str(tmp_path)), DeployState("6-1", "c" * 40))
    journal.take_over()
    assert journal.prior is None
    (tmp_path / JOURNAL).write_text("{half")
    journal.take_over()
    assert journal.prior is None
    assert DeployState.from_dict({"target_sha": "x"}) is None
    assert DeployState.from_dict(["5-1"]) is None
    assert DeployState.from_dict({"deploy_id": "5-1"}) is None  # no target_sha


def test_interrupted_means_dirty_and_never_recorded_as_good():
    killed = DeployState("5-1", "a" * 40, dirty=True)
    assert killed.interrupted({})
    assert killed.interrupted({"deploy_id": "4-1", "sha": "b" * 40})
    assert not killed.interrupted({"deploy_id": "5-1", "sha": "a" * 40})  # it had completed
    assert not DeployState("5-1", "a" * 40, dirty=False).interrupted({})


def test_a_journal_with_a_wrong_type_a_bad_commit_or_a_path_out_of_the_app_is_not_trusted(tmp_path: Path):
    good = {"deploy_id": "5-1", "target_sha": "a" * 40, "previous_sha": "b" * 40, "dirty": True,
            "discarded": ["config/local.py", "data file.txt"]}
    assert DeployState.from_dict(good) is not None
    for change in ({"previous_sha": 12}, {"previous_sha": "main"}, {"head": "x" * 40}, {"dirty": "yes"},
                   {"pid": True}, {"discarded": "app.py"}, {"discarded": [7]}, {"discarded": ["../etc/passwd"]},
                   {"discarded": ["/etc/passwd"]}, {"discarded": ["a/../../x"]}, {"discarded": ["C:\\x"]},
                   {"discarded": ["\\\\server\\share\\x"]}, {"backup_path": 3}, {"previous_start": []}):
        assert DeployState.from_dict(dict(good, **change)) is None, change
    # read back by a deploy (a warn callback): set aside, said
    said: list[str] = []
    (tmp_path / JOURNAL).write_text(json.dumps(dict(good, discarded=["/etc/passwd"])))
    journal = Journal(StateDir(str(tmp_path), warn=said.append), DeployState("6-1", "c" * 40))
    journal.take_over()
    assert journal.prior is None and not (tmp_path / JOURNAL).exists()
    assert len(list(tmp_path.glob(JOURNAL + ".corrupt-*"))) == 1
    assert len(said) == 1 and "outside the app" in said[0]
