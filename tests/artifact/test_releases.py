"""Release folders behind ``app_dir``: the link (symlink; the Windows order of renames with a
stand-in), adoption of a git clone, server-local files carried over, rollback targets, pruning."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ssm_action.agent.errors import StepError
from ssm_action.agent.links import Links
from ssm_action.agent.releases import Releases


class JunctionOrder(Links):
    """STAND-IN for Junctions on Linux: the Windows sequence of renames, with symlinks."""

    atomic = False


@pytest.fixture(params=[Links, JunctionOrder], ids=["symlink", "junction-order"])
def releases(request, tmp_path: Path) -> Releases:
    rel = Releases(str(tmp_path / "srv" / "web"), request.param())
    rel.prepare()
    return rel


def release(rel: Releases, sha: str, files: dict[str, str], ready: bool = True) -> str:
    """A release as unpack and install leave it: the files, the manifest, the venv, the marker."""
    name = rel.new_name(sha)
    root = Path(rel.path(name))
    for path, text in {**files, ".venv/pyvenv.cfg": "home = /usr/bin\n"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "DEPLOY_ARTIFACT.json").write_text(json.dumps({"commit": sha, "files": sorted(files)}))
    if ready:
        rel.mark_ready(name, {"commit": sha})
    return name


def test_the_link_is_switched_between_ready_releases(releases: Releases):
    app = Path(releases.app_dir)
    one = release(releases, "1" * 40, {"app.py": "one"})
    assert releases.current() is None and "(was no release)" in releases.switch(one)
    assert (app / "app.py").read_text() == "one" and releases.current() == one
    two = release(releases, "2" * 40, {"app.py": "two"})
    assert releases.switch(two) == f"{app} -> {two} (was {one})"
    assert (app / "app.py").read_text() == "two"
    assert sorted(os.listdir(app.parent)) == ["web", "web.releases"]  # no .switch or .old left
    half = release(releases, "3" * 40, {"app.py": "three"}, ready=False)
    with pytest.raises(StepError, match="is not ready"):
        releases.switch(half)
    assert releases.current() == two


def test_a_git_clone_is_adopted_and_its_local_files_carried(releases: Releases):
    app = Path(releases.app_dir)
    for path, text in {"app.py": "git version", ".git/HEAD": "ref", ".venv/pyvenv.cfg": "x",
                       ".env": "SECRET=1", "data/notes.db": "rows", "__pycache__/a.pyc": "c"}.items():
        (app / path).parent.mkdir(parents=True, exist_ok=True)
        (app / path).write_text(text)
    new = release(releases, "1" * 40, {"app.py": "artifact version", "requirements.txt": ""})
    assert sorted(releases.carry_over(new)) == [".env", os.path.join("data", "notes.db")]
    carried = Path(releases.path(new))
    assert os.path.samefile(carried / ".env", app / ".env")  # one file, as with git
    assert (carried / "app.py").read_text() == "artifact version"
    detail = releases.switch(new)
    adopted = [n for n in releases.names() if n.endswith("-adopted")][0]
    assert "moved the git clone aside as release" in detail and releases.ready(adopted)
    assert (Path(releases.path(adopted)) / ".git" / "HEAD").read_text() == "ref"
    assert releases.current() == new and (app / "app.py").read_text() == "artifact version"
    assert releases.rollback_target() == new  # nothing marked good yet: the current one
    releases.switch(adopted)  # a rollback to the clone's files
    assert (app / "app.py").read_text() == "git version"


def test_only_server_local_files_are_carried_and_again_after_the_stop(releases: Releases, tmp_path: Path):
    app = Path(releases.app_dir)
    old = release(releases, "1" * 40, {"app.py": "1", "old_only.py": "removed in 2", "conf/base.ini": "1"})
    releases.switch(old)
    (app / "conf" / "local.ini").write_text("server's own")
    (app / "settings.py").write_text("server's own, shipped by 2")
    (app / "uploads").symlink_to(tmp_path)
    new = release(releases, "2" * 40, {"app.py": "2", "settings.py": "from the commit"})
    assert sorted(releases.carry_over(new)) == [os.path.join("conf", "local.ini"), "uploads"]
    target = Path(releases.path(new))
    assert not (target / "old_only.py").exists() and (target / "settings.py").read_text() == "from the commit"
    assert os.readlink(target / "uploads") == str(tmp_path)
    assert releases.carry_over(new) == []  # nothing changed meanwhile
    (app / "conf" / "written-later.txt").write_text("while the old app still ran")
    (app / "conf" / "local.ini").unlink()
    (app / "conf" / "local.ini").write_text("replaced by rename")
    assert sorted(releases.carry_over(new)) == [os.path.join("conf", "local.ini"),
                                                os.path.join("conf", "written-later.txt")]
    assert (target / "conf" / "local.ini").read_text() == "replaced by rename"


def test_rollback_target_and_pruning_spare_current_and_previous(releases: Releases):
    names = [release(releases, f"{i}" * 40, {"app.py": str(i)}) for i in range(1, 6)]
    for name in names[:3]:
        releases.switch(name)
        releases.mark_good(name)
    releases.switch(names[4])  # killed before its checks: not good
    unfinished = release(releases, "6" * 40, {"app.py": "6"}, ready=False)
    assert releases.rollback_target() == names[2]
    removed = releases.prune(keep=1)
    assert removed == [names[0], names[3], unfinished]  # older good, never good, unfinished
    assert releases.names() == [names[1], names[2], names[4]]  # previous good, last good, current
    releases.switch(names[2])
    assert releases.prune(keep=1, spare=(names[4],)) == [] and releases.prune(keep=1) == [names[4]]


def test_a_switch_killed_between_the_renames_is_undone(tmp_path: Path):
    rel = Releases(str(tmp_path / "web"), JunctionOrder())
    rel.prepare()
    one, two = (release(rel, c * 40, {"app.py": c}) for c in "12")
    rel.switch(one)
    os.symlink(rel.path(two), rel.app_dir + ".switch")  # what the killed switch had done
    os.rename(rel.app_dir, rel.app_dir + ".old")
    assert not os.path.lexists(rel.app_dir)
    assert rel.prepare() == f"an interrupted switch was undone: {rel.app_dir} is {rel.path(one)} again"
    assert rel.current() == one and sorted(os.listdir(tmp_path)) == ["web", "web.releases"]


def test_an_adoption_killed_after_the_move_is_finished(tmp_path: Path):
    rel = Releases(str(tmp_path / "web"), Links())
    os.makedirs(rel.app_dir)
    Path(rel.app_dir, "app.py").write_text("git")
    rel.prepare()
    (Path(rel.root) / "adopting.json").write_text(json.dumps({"release": "20260101T000000000000Z-adopted"}))
    os.rename(rel.app_dir, rel.path("20260101T000000000000Z-adopted"))
    assert "an interrupted adoption was finished" in rel.prepare()
    assert rel.current() == "20260101T000000000000Z-adopted" and Path(rel.app_dir, "app.py").read_text() == "git"
    assert not (Path(rel.root) / "adopting.json").exists()
