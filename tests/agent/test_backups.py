"""Backups: what goes in the zip, and putting some or all files back."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from ssm_action.agent import backups


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
    assert backups.restore_from_backup(str(dest), str(app), ["app.py", "added.txt"]) == 2
    assert (app / "app.py").read_text() == "print('app')\n"
    assert not (app / "added.txt").exists()  # not in the backup: it did not exist then
    assert (app / "pkg" / "mod.py").read_text() == "changed\n"
    backups.restore_from_backup(str(dest), str(app))
    assert (app / "pkg" / "mod.py").read_text() == "x = 1\n"
