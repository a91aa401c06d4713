"""The runner packs exactly the tested commit: git archive of the SHA (export-ignore honoured,
never the work tree), a deterministic zip, the working-directory as its root, and a wheelhouse
for the servers' platform and Python, refused with the requirement's name when a wheel is missing."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from ssm_action import artifact, wheelhouse
from ssm_action.errors import ActionError
from tests.agent.agent_fixtures import git
from tests.artifact.artifact_fixtures import Project


def members(art: artifact.Artifact) -> dict[str, bytes]:
    with zipfile.ZipFile(art.path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_only_the_commit_is_shipped_export_ignore_honoured(project: Project, pack):
    sha = project.commit("v1", {".gitattributes": "secrets/ export-ignore\n*.md export-ignore\n",
                                "secrets/dev.key": "not for servers", "NOTES.md": "internal",
                                "lib/util.py": "X = 1\n"})
    (project.repo / "untracked.env").write_text("TOKEN=from-the-work-tree")
    (project.repo / "lib" / "util.py").write_text("X = 'edited, not committed'\n")
    (project.repo / "app.py").unlink()
    art = pack(sha, wheelhouse=False)
    files = members(art)
    assert sorted(files) == [".gitattributes", "DEPLOY_ARTIFACT.json", "app.py", "lib/util.py", "requirements.txt"]
    assert files["lib/util.py"] == b"X = 1\n"  # the committed bytes, not the work tree's
    manifest = json.loads(files["DEPLOY_ARTIFACT.json"])
    assert manifest["commit"] == sha and manifest["files"] == list(art.files) and manifest["wheelhouse"] is None
    assert art.files == (".gitattributes", "app.py", "lib/util.py", "requirements.txt")


def test_the_same_commit_gives_the_same_bytes_from_another_clone(project: Project, pack, tmp_path: Path):
    sha = project.commit("v1", {"bin/run.sh": "#!/bin/sh\necho run\n", "data/logo.png": b"\x89PNG" + os.urandom(64)})
    git(project.repo, "update-index", "--chmod=+x", "bin/run.sh")
    git(project.repo, "commit", "-q", "-m", "exec")
    sha = git(project.repo, "rev-parse", "HEAD")
    first = pack(sha)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project.repo), str(clone))
    for path in clone.rglob("*"):
        if ".git" not in path.parts and path.is_file():
            os.utime(path, (1_000_000_000, 1_000_000_000))
    again = artifact.pack(clone, sha, tmp_path / "other", wheels=wheelhouse.WheelTarget("linux", "3.11"))
    assert again.path.read_bytes() == first.path.read_bytes() and again.sha256 == first.sha256
    with zipfile.ZipFile(first.path) as archive:
        infos = {i.filename: i for i in archive.infolist()}
    assert list(infos) == sorted(infos)
    assert {i.date_time for i in infos.values()} == {(1980, 1, 1, 0, 0, 0)}
    assert infos["bin/run.sh"].external_attr >> 16 == 0o100755
    assert infos["app.py"].external_attr >> 16 == 0o100644
    assert infos["data/logo.png"].compress_type == zipfile.ZIP_STORED  # already compressed
    assert infos[".wheelhouse/tinydep-1.0-py3-none-any.whl"].compress_type == zipfile.ZIP_STORED
    assert infos["app.py"].compress_type == zipfile.ZIP_DEFLATED
    assert first.key("deploys/") == f"deploys/artifacts/{sha}-{first.sha256}.zip"
    assert first.key("") == f"artifacts/{sha}-{first.sha256}.zip"


def test_a_sub_folder_project_is_the_artifacts_root(project: Project, pack):
    project.commit("root", {".gitattributes": "services/api/tests/ export-ignore\n", "README.md": "monorepo"})
    sha = project.commit("api", {"tests/test_api.py": "def test(): pass\n", "requirements.txt": "tinydep==1.0\n"},
                         subdir="services/api")
    art = pack(sha, subdir="services/api")
    assert art.files == ("app.py", "requirements.txt")  # root .gitattributes applied, nothing from outside
    assert art.wheels == ("tinydep-1.0-py3-none-any.whl",)
    assert json.loads(members(art)["DEPLOY_ARTIFACT.json"])["working_directory"] == "services/api"
    with pytest.raises(ActionError, match="check working-directory"):
        pack(sha, subdir="services/missing")


def test_a_wheelhouse_for_the_servers_platform_and_python(project: Project, pack):
    sha = project.commit("v1", {"requirements.txt": "-r base.txt\nnative==1.0\n", "base.txt": "tinydep==1.0\n"})
    art = pack(sha, platform="windows")
    assert art.wheels == ("native-1.0-cp311-cp311-win_amd64.whl", "tinydep-1.0-py3-none-any.whl")
    wheelhouse = json.loads(members(art)["DEPLOY_ARTIFACT.json"])["wheelhouse"]
    assert wheelhouse == {"platform": "win_amd64", "python_version": "3.11", "wheels": list(art.wheels)}


@pytest.mark.parametrize("resolver", ["uv", "pip"])
@pytest.mark.parametrize("requirement, named", [("native==1.0", "native"), ("sdistonly", "sdistonly")])
def test_a_requirement_without_a_wheel_for_the_servers_is_named(project: Project, pack, monkeypatch, resolver,
                                                                requirement, named):
    if resolver == "pip":
        monkeypatch.setattr(wheelhouse, "find_uv", lambda: None)
    sha = project.commit("v1", {"requirements.txt": f"tinydep==1.0\n{requirement}\n"})
    with pytest.raises(ActionError) as caught:
        pack(sha, platform="linux")
    assert caught.value.title == "No wheel for the servers"
    assert re.match(f"{named}(==1.0)? has no wheel for manylinux2014_x86_64 and Python 3.11: pin a version",
                    caught.value.message)


@pytest.mark.parametrize("python, platform, wanted", [("3.8", "linux", ["tinydep-1.0-py3-none-any.whl"]),
                                                      ("3.11", "linux", []),
                                                      ("3.11", "windows", ["native-1.0-cp311-cp311-win_amd64.whl"])])
def test_markers_are_evaluated_for_the_servers_not_the_runner(project: Project, pack, python, platform, wanted):
    """pip download alone would judge these markers by the runner (Python 3.11 on Linux)."""
    sha = project.commit("v1", {"requirements.txt": 'tinydep==1.0; python_version < "3.10"\n'
                                                    'native==1.0; sys_platform == "win32"\n'})
    assert list(pack(sha, platform=platform, python=python).wheels) == wanted


def test_links_reserved_names_and_unknown_commits_are_refused(project: Project, pack):
    project.commit("v1")
    (project.repo / "current").symlink_to("app.py")
    git(project.repo, "add", "-A")
    git(project.repo, "commit", "-q", "-m", "link")
    with pytest.raises(ActionError, match="current in commit .* is a link"):
        pack(git(project.repo, "rev-parse", "HEAD"))
    (project.repo / "current").unlink()
    sha = project.commit("v2", {".wheelhouse/x.whl": "mine"})
    with pytest.raises(ActionError, match="the commit holds .wheelhouse/x.whl"):
        pack(sha)
    git(project.repo, "rm", "-rq", ".wheelhouse")
    sha = project.commit("v3", {"a:b.txt": "a Windows stream name"})
    with pytest.raises(ActionError, match="a:b.txt in commit .* has a drive or stream name, which a server refuses"):
        pack(sha)
    with pytest.raises(ActionError, match="commit 1234567 is not in the checkout"):
        pack("1234567")


def test_the_dry_run_description_lists_what_would_be_sent(project: Project, pack):
    art = pack(project.commit("v1"))
    lines = artifact.describe(art, "bucket", "deploys", limit=2)
    assert lines[0] == f"artifact of {art.commit}: {art.size} bytes, sha256 {art.sha256}"
    assert lines[1] == f"would be stored at s3://bucket/{art.key('deploys')} (not uploaded: dry run)"
    assert lines[2:] == ["2 file(s), 1 wheel(s):", "  app.py", "  requirements.txt", "  ... and 1 more"]
