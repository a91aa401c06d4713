"""The clone, on real git: a new clone, fetching one exact commit, local changes, checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssm_action.agent.errors import StepError
from ssm_action.agent.git import Git
from ssm_action.agent.output import Redactor, Reporter
from ssm_action.agent.shell import Shell
from tests.agent.agent_fixtures import git


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo


def clone(tmp_path: Path, remote: str, branch: str = "main") -> Git:
    return Git(Shell(Reporter(Redactor())), str(tmp_path / "app"), remote, branch)


def test_a_new_clone_gets_the_exact_commit(tmp_path: Path, origin: Path):
    first = commit(origin, {"a.txt": "1"}, "one")
    commit(origin, {"a.txt": "2"}, "two")  # the branch moved on: the first is fetched by its sha
    repo = clone(tmp_path, str(origin))
    assert repo.head() is None
    repo.ensure_repo()
    assert repo.fetch(first) == "fetched from %s" % origin
    repo.checkout(first)
    assert repo.head() == first and repo.fetch(first) == "commit already present"
    with pytest.raises(StepError, match="commit 0{40} is not in"):
        repo.fetch("0" * 40)


def test_local_changes_are_changed_tracked_files_and_untracked_ones_in_the_way(
        tmp_path: Path, origin: Path):
    v1 = commit(origin, {"config.txt": "origin", "old.txt": "x"}, "v1")
    repo = clone(tmp_path, str(origin))
    repo.ensure_repo()
    repo.fetch(v1)
    repo.checkout(v1)
    git(origin, "mv", "old.txt", "new.txt")
    v2 = commit(origin, {"extra.txt": "from v2"}, "v2")
    app = tmp_path / "app"
    (app / "config.txt").write_text("edited")
    (app / "extra.txt").write_text("in the way")
    (app / "notes.txt").write_text("untracked, not in v2")
    repo.fetch(v2)
    assert repo.local_changes(v2) == ["config.txt", "extra.txt"]


def test_a_folder_that_is_not_a_clone_is_refused(tmp_path: Path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "file").write_text("x")
    with pytest.raises(StepError, match="exists but is not a git clone"):
        clone(tmp_path, "/remote").ensure_repo()
    with pytest.raises(StepError, match="is not a git clone and git_remote is empty"):
        Git(Shell(Reporter(Redactor())), str(tmp_path / "empty"), "", "").ensure_repo()


class QuickShell(Shell):
    """The agent's shell with a 30 s limit instead of git's 600 s: a hung git fails this test, not the suite."""

    def run(self, argv, **kwargs):  # type: ignore[no-untyped-def]
        return super().run(argv, **dict(kwargs, timeout=30))


@pytest.mark.parametrize("remote", ["fd::3", "ext::sh -c touch% {marker}", "nosuchhelper::x"])
def test_a_transport_helper_set_in_the_clone_is_refused_not_run(tmp_path: Path, origin: Path, remote: str):
    """git_remote is checked by the contract; a remote set in the server's clone itself is refused by git."""
    sha = commit(origin, {"a.txt": "1"}, "one")
    repo = clone(tmp_path, str(origin))
    repo.ensure_repo()
    marker = tmp_path / "ran"
    git(Path(repo.app_dir), "remote", "add", "origin", remote.format(marker=marker))
    repo = Git(QuickShell(Reporter(Redactor())), repo.app_dir, "", "main")
    with pytest.raises(StepError, match="not allowed"):
        repo.fetch(sha)
    assert not marker.exists()
