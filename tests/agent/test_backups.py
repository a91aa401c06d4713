"""Backups: what goes in the zip, and putting some or all files back."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from ssm_action.agent import backups
from ssm_action.contract import AgentParams


def params(**given: str) -> AgentParams:
    """Parameters as the agent parses them, the paths given."""
    return AgentParams(deploy_id="1-1", sha="a" * 40, platform="linux", **given)


def make_tree(root: Path) -> None:
    files = {
        "app.py": "print('app')\n", "pkg/mod.py": "x = 1\n", "pkg/__pycache__/mod.pyc": "c",
        "stale.pyc": "c", ".git/HEAD": "ref", ".venv/pyvenv.cfg": "home", "env2/pyvenv.cfg": "h",
        "env2/lib/big.so": "b", "backups/old.zip": "z", "data/keep.db": "db",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_backup_leaves_out_git_venvs_and_caches(tmp_path: Path):
    app = tmp_path / "app"
    make_tree(app)
    dest = tmp_path / "b.zip"
    backups.make_backup(str(app), str(dest), {"head": "abc"}, skip=[str(app / "backups")])
    with zipfile.ZipFile(dest) as archive:
        assert sorted(archive.namelist()) == [backups.MANIFEST, "app.py", "data/keep.db",
                                              "pkg/mod.py"]
        assert json.loads(archive.read(backups.MANIFEST)) == {"head": "abc"}
    assert not (tmp_path / "b.zip.partial").exists()


def test_restore_some_or_all_files_from_a_backup(tmp_path: Path):
    app = tmp_path / "app"
    make_tree(app)
    dest = tmp_path / "b.zip"
    backups.make_backup(str(app), str(dest), {}, skip=[])
    (app / "app.py").write_text("changed\n")
    (app / "pkg" / "mod.py").write_text("changed\n")
    (app / "added.txt").write_text("new\n")
    assert backups.restore_from_backup(str(dest), str(app), ["app.py", "added.txt"]) == []
    assert (app / "app.py").read_text() == "print('app')\n"
    assert not (app / "added.txt").exists()  # not in the backup: it did not exist then
    assert (app / "pkg" / "mod.py").read_text() == "changed\n"
    backups.restore_from_backup(str(dest), str(app))
    assert (app / "pkg" / "mod.py").read_text() == "x = 1\n"


def test_a_backup_keeps_symlinks_as_links_and_is_its_owners_only(tmp_path: Path):
    secret = tmp_path / "root-only.txt"
    secret.write_text("root's secret\n")
    secret.chmod(0o600)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "inner.txt").write_text("outside the app\n")
    app = tmp_path / "app"
    make_tree(app)
    (app / "leak.txt").symlink_to(secret)
    (app / "linked-dir").symlink_to(tmp_path / "elsewhere")
    where = backups.Layout.of(params(app_dir=str(app), venv_dir="", backup_dir="", entry="app.py",
                                     requirements_file="requirements.txt"))
    Path(where.backup_dir).mkdir(mode=0o755)  # as an older agent made it
    path, links = backups.Backups(where, 3).create("1-1", None, None)
    assert links == 2
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(where.backup_dir).st_mode) == 0o700
    with zipfile.ZipFile(path) as archive:
        assert b"secret" not in b"".join(archive.read(n) for n in archive.namelist())
        assert archive.read("leak.txt") == str(secret).encode()  # the link's target, not its content
        assert "linked-dir/inner.txt" not in archive.namelist()
    (app / "leak.txt").unlink()
    (app / "linked-dir").unlink()
    assert backups.restore_from_backup(path, str(app)) == []
    assert os.readlink(app / "leak.txt") == str(secret) and os.readlink(app / "linked-dir") == str(
        tmp_path / "elsewhere")


def test_older_backups_are_made_owner_only_too(tmp_path: Path):
    app = tmp_path / "app"
    make_tree(app)
    where = backups.Layout.of(params(app_dir=str(app), venv_dir="", backup_dir=str(tmp_path / "given"),
                                     entry="app.py", requirements_file="requirements.txt"))
    (tmp_path / "given").mkdir(mode=0o755)
    old = tmp_path / "given" / "app-20260101T000000Z-1-1.zip"
    old.write_bytes(b"")
    old.chmod(0o644)
    backups.Backups(where, 3).create("2-1", None, None)
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "given").stat().st_mode) == 0o755  # a given folder may be shared


@pytest.mark.parametrize("forged", ["../outside.txt", "/abs/outside.txt", "linked/outside.txt"])
def test_a_restore_never_writes_or_deletes_outside_the_app(tmp_path: Path, forged: str):
    outside = tmp_path / "outside.txt"
    app = tmp_path / "app"
    make_tree(app)
    (app / "linked").symlink_to(tmp_path)  # a folder link out of the app
    dest = tmp_path / "b.zip"
    backups.make_backup(str(app), str(dest), {}, skip=[])
    outside.write_text("not the app's\n")
    forged = forged.replace("/abs", str(tmp_path))
    failed = backups.restore_from_backup(str(dest), str(app), [forged, "app.py"])
    assert outside.read_text() == "not the app's\n"
    assert [f.split(" (")[0] for f in failed] == [forged]


def test_a_damaged_member_is_named_and_the_others_are_restored(tmp_path: Path):
    app = tmp_path / "app"
    make_tree(app)
    dest = tmp_path / "b.zip"
    backups.make_backup(str(app), str(dest), {}, skip=[])
    data = bytearray(dest.read_bytes())
    with zipfile.ZipFile(dest) as archive:
        entry = archive.getinfo("app.py")
    header = entry.header_offset
    start = header + 30 + int.from_bytes(data[header + 26:header + 28], "little") + int.from_bytes(
        data[header + 28:header + 30], "little")
    data[start:start + entry.compress_size] = b"\0" * entry.compress_size  # app.py's bytes destroyed
    dest.write_bytes(bytes(data))
    (app / "app.py").write_text("changed\n")
    (app / "pkg" / "mod.py").write_text("changed\n")
    failed = backups.restore_from_backup(str(dest), str(app), ["app.py", "pkg/mod.py"])
    assert [f.split(" (")[0] for f in failed] == ["app.py"]
    assert (app / "app.py").read_text() == "changed\n"  # left as it was, not half-written
    assert (app / "pkg" / "mod.py").read_text() == "x = 1\n"
