"""The app's git clone: fetch the exact commit, check it out, see what the server changed."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import List, Optional

from ssm_action.agent.errors import StepError
from ssm_action.agent.output import short, tail
from ssm_action.agent.shell import Ran, Shell
from ssm_action.contract.checks import GIT_PROTOCOLS

LAST_GOOD_REF = "refs/deploy/last-good"  # keeps the last good commit reachable in the clone


class Git:
    def __init__(self, shell: Shell, app_dir: str, remote: str, branch: str) -> None:
        self.shell = shell
        self.app_dir = app_dir
        self.remote = remote  # "" means the clone's origin
        self.branch = branch  # "" means a detached HEAD
        self.exe = shutil.which("git") or "git"

    def run(self, *args: str, quiet: bool = False, check: bool = True) -> Ran:
        ran = self.shell.run(
            [self.exe, "-c", "safe.directory=*", "-C", self.app_dir] + list(args), quiet=quiet,
            # git's own transports only, also for a remote set in the clone: a helper (ext::, fd::) runs
            # a program or waits on a file descriptor
            env=dict(os.environ, GIT_TERMINAL_PROMPT="0", GCM_INTERACTIVE="never", GIT_ALLOW_PROTOCOL=":".join(
                GIT_PROTOCOLS)))
        if check and ran.code:
            raise StepError("git %s failed (exit %d): %s" % (
                args[0], ran.code, " ".join(tail(ran.err, 2)) or "no message"))
        return ran

    def is_clone(self) -> bool:
        return os.path.exists(os.path.join(self.app_dir, ".git"))

    def head(self) -> Optional[str]:
        if not self.is_clone():
            return None
        ran = self.run("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
        return ran.out.strip() or None

    def has_commit(self, sha: str) -> bool:
        return self.run("cat-file", "-e", sha + "^{commit}", check=False, quiet=True).code == 0

    def ensure_repo(self) -> None:
        """A clone to work in: the existing one, or a new one in an empty folder."""
        if self.is_clone():
            return
        if os.path.isdir(self.app_dir) and os.listdir(self.app_dir):
            raise StepError("%s exists but is not a git clone: clone the repository there, "
                            "or use an empty folder" % self.app_dir)
        if not self.remote:
            raise StepError("%s is not a git clone and git_remote is empty: set git_remote"
                            % self.app_dir)
        os.makedirs(self.app_dir, exist_ok=True)
        self.run("init", "-q")

    def remove_stale_locks(self) -> None:
        for lock in ("index.lock", "HEAD.lock"):  # left by a git killed with the agent
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(self.app_dir, ".git", lock))
                self.shell.rep.log("removed a stale .git/" + lock)

    def fetch(self, sha: str) -> str:
        """Fetch (the branch, then the commit itself) only when the commit is not here yet."""
        if self.has_commit(sha):
            return "commit already present"
        remote = self.remote or "origin"
        branch = self.branch
        ran = self.run("fetch", "-q", "--no-tags", remote, *([branch] if branch else []),
                       check=False)
        if not self.has_commit(sha):  # not on the branch head: ask for the commit itself
            ran = self.run("fetch", "-q", "--no-tags", remote, sha, check=False)
        if not self.has_commit(sha):
            raise StepError("commit %s is not in %s%s: push it, or check sha and branch (git: "
                            "%s)" % (sha, remote, " branch " + branch if branch else "",
                                     " ".join(tail(ran.err, 2)) or "no message"))
        return "fetched from %s" % remote

    def local_changes(self, sha: str) -> List[str]:
        """Tracked files changed on the server, and untracked ones the commit overwrites."""
        fields = self.run("status", "--porcelain", "-z", "--untracked-files=no",
                          quiet=True).out.split("\0")
        changed = set()
        index = 0
        while index < len(fields):
            entry = fields[index]
            if len(entry) > 3:
                changed.add(entry[3:])
                if entry[0] in "RC":  # a rename carries its source in the next field
                    index += 1
                    changed.add(fields[index])
            index += 1
        target = set(self.run("ls-tree", "-r", "-z", "--name-only", sha,
                              quiet=True).out.split("\0"))
        tracked = set(self.run("ls-files", "-z", quiet=True).out.split("\0"))
        changed.update(p for p in target - tracked
                       if p and os.path.lexists(os.path.join(self.app_dir, p)))
        return sorted(changed)

    def checkout(self, sha: str) -> None:
        branch = self.branch
        self.run("checkout", "-f", "-q", *(["-B", branch] if branch else ["--detach"]), sha)
        head = self.head()
        if head != sha:
            raise StepError("HEAD is %s after checkout, not %s" % (short(head), short(sha)))

    def mark_good(self, sha: str) -> None:
        self.run("update-ref", LAST_GOOD_REF, sha, check=False)
