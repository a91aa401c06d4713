"""The agent's state files are data, not instructions: a corrupted or forged record never blocks a
deploy (it is set aside, said, and the deploy goes on from git and the backups) and never makes the
agent touch a file outside the app's own folders. Real agent runs, git, venvs and processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssm_action.contract import ExitCode
from tests.agent.agent_fixtures import ROLLBACK_WAIT, Server

CORRUPTIONS = {
    "journal: previous_sha 12": ("journal.json", lambda v1: json.dumps({
        "deploy_id": "9-1", "target_sha": "c" * 40, "phase": "start", "previous_sha": 12, "dirty": True})),
    "journal: wrong types": ("journal.json", lambda v1: json.dumps({
        "deploy_id": "9-1", "target_sha": "c" * 40, "previous_sha": v1, "dirty": "yes", "discarded": "app.py",
        "backup_path": 7})),
    "journal: truncated": ("journal.json", lambda v1: '{"deploy_id": "9-1", "target_sha": "' + v1[:9]),
    "last-good: sha 5": ("last-good.json", lambda v1: json.dumps({"sha": 5, "deploy_id": "1-1"})),
    "last-good: a list": ("last-good.json", lambda v1: json.dumps([v1])),
    "last-good: history of numbers": ("last-good.json", lambda v1: json.dumps({"sha": v1, "history": 3})),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_a_corrupted_state_file_is_set_aside_and_the_deploy_goes_on(server: Server, name: str):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    record, text = CORRUPTIONS[name]
    state = Path(f"{server.app_dir}.deploy")
    (state / record).write_text(text(v1))
    v2 = server.commit("v2")
    done = server.deploy(v2)
    assert done.code == ExitCode.OK, done.out + done.err
    assert server.get() == (200, "v2 tinydep-1.0")
    assert done.result["previous_sha"] == v1  # from git, the record being unusable
    aside = list(state.glob(record + ".corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == text(v1)
    assert any(record in w and "unusable" in w for w in done.result["warnings"]), done.result
    assert "warning: the record" in done.out
    # And the records written since are whole: the next deploy needs no warning.
    again = server.deploy(server.commit("v3"))
    assert again.code == ExitCode.OK and not again.result.get("warnings"), again.out


def forge_interrupted(server: Server, v1: str, discarded: list[str]) -> None:
    """A journal as a killed deploy would leave it, naming ``discarded`` (and the real backup)."""
    backup = sorted(Path(f"{server.app_dir}-backups").glob("*.zip"))[-1]
    (Path(f"{server.app_dir}.deploy") / "journal.json").write_text(json.dumps({
        "deploy_id": "9-1", "target_sha": "c" * 40, "phase": "start", "previous_sha": v1, "head": v1,
        "backup_path": str(backup), "discarded": discarded, "dirty": True}))


def test_a_forged_journal_cannot_make_a_rollback_delete_outside_the_app(server: Server, tmp_path: Path):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    victims = [tmp_path / "outside.txt", server.root / "srv" / "sibling.txt"]
    for victim in victims:
        victim.write_text("not the app's\n")
    assert server.deploy(server.commit("v1b")).code == ExitCode.OK  # a backup exists
    forge_interrupted(server, v1, [str(victims[0]), "../sibling.txt", "app.py"])
    bad = server.deploy(server.commit("v2", status=500), health_timeout=ROLLBACK_WAIT)
    assert bad.code == ExitCode.ROLLED_BACK, bad.out + bad.err
    for victim in victims:
        assert victim.read_text() == "not the app's\n", victim
    assert any("journal.json" in w and "outside the app" in w for w in bad.result["warnings"]), bad.result


def test_a_backup_path_from_the_journal_must_be_one_of_the_apps_backups(server: Server, tmp_path: Path):
    """A journal naming another zip (here one that would overwrite app.py) is not restored from."""
    import zipfile
    v1 = server.commit("v1", files={"config.txt": "origin\n"})
    assert server.deploy(v1).code == ExitCode.OK
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("config.txt", "planted\n")
    (Path(f"{server.app_dir}.deploy") / "journal.json").write_text(json.dumps({
        "deploy_id": "9-1", "target_sha": "c" * 40, "previous_sha": v1, "head": v1,
        "backup_path": str(foreign), "discarded": ["config.txt"], "dirty": True}))
    (server.app_dir / "config.txt").write_text("server-local\n")
    bad = server.deploy(server.commit("v2", status=500), health_timeout=ROLLBACK_WAIT)
    assert bad.code == ExitCode.ROLLED_BACK, bad.out + bad.err
    assert (server.app_dir / "config.txt").read_text() != "planted\n"
    assert bad.result["backup_path"] != str(foreign)


DAMAGE_THE_BACKUP = '''
import glob, os
newest = sorted(glob.glob(os.environ["DEPLOY_APP_DIR"] + "-backups/*.zip"))[-1]
with open(newest, "r+b") as zip_file:  # a disk error: the zip's directory is gone
    zip_file.truncate(os.path.getsize(newest) // 2)
'''


def test_a_damaged_backup_does_not_stop_a_rollback_git_already_did(server: Server):
    """The deploy's own backup is damaged (here by its pre-stop hook) after git moved the tree: the
    rollback puts the previous commit back from git, starts it, and names what it could not restore."""
    v1 = server.commit("v1", files={"config.txt": "origin\n"})
    assert server.deploy(v1).code == ExitCode.OK
    (server.app_dir / "config.txt").write_text("edited on the server\n")
    v2 = server.commit("v2", status=500, files={"deploy/hooks/pre-stop.py": DAMAGE_THE_BACKUP})
    run = server.deploy(v2, health_timeout=ROLLBACK_WAIT)
    assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
    assert server.head() == v1 and server.get() == (200, "v1 tinydep-1.0")
    assert (server.app_dir / "config.txt").read_text() == "origin\n"  # v1's, from git: the edit is lost
    assert any("could not restore" in w and "config.txt" in w for w in run.result["warnings"]), run.out
