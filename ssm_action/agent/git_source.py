"""The git source of a deploy: the app folder is a git clone, brought to the commit in place.

Its steps: a zip backup of the work tree, the fetch and checkout, the requirements, then the
app's stop and start (around a Windows venv rebuild, see venv.py). A failure after the tree
changed puts the previous commit back (its files, its requirements, its process); the files
come from git, or from the backup when git fails.
"""

from __future__ import annotations

import os
from typing import Iterator

from ssm_action.agent import history
from ssm_action.agent.backups import Backups, restore_from_backup
from ssm_action.agent.errors import StepError
from ssm_action.agent.output import cap_list, short
from ssm_action.agent.pipeline import Pipeline, Step
from ssm_action.contract.result import ExitCode

STEPS = ("lock", "secrets", "record", "backup", "sync", "deps", "pre-stop", "stop", "start", "verify",
         "post-start")  # a git deploy's lines, the pipeline's lock first (and "venv" after "stop" when deferred)


class GitSource:
    def __init__(self, pipeline: Pipeline) -> None:
        self.d = pipeline

    def steps(self) -> Iterator[Step]:
        d, sha = self.d, self.d.p.sha
        yield from [("secrets", d.app.read_secrets), ("record", d.record), ("backup", self.backup),
                    ("sync", self.sync), ("deps", d.env.deps), ("pre-stop", lambda: d.app.hooks("pre-stop", sha)),
                    ("stop", d.app.stop)]
        if d.env.deferred is not None:  # Windows: the venv is rebuilt once the app is stopped (venv.py)
            yield ("venv", d.env.rebuild)
        yield from [("start", lambda: d.app.start(sha)), ("verify", d.app.verify_started),
                    ("post-start", lambda: d.app.hooks("post-start", sha))]

    def succeeded(self) -> None:
        history.record_good(self.d.records, self.d.p, self.d.state.backup_path)
        self.d.git.mark_good(self.d.p.sha)

    def fail(self, step: str, error: str) -> int:
        d = self.d
        error = "%s: %s" % (step, error)
        if not d.state.dirty:
            return d.finish("failed", ExitCode.FAILED, error + " (nothing was changed)")
        if not d.p.rollback_on_failure:
            return d.finish("failed", ExitCode.FAILED, error + " (rollback is off)")
        previous = d.state.previous_sha
        if previous is None:
            return d.finish("failed", ExitCode.FAILED, error + " (no previous version to restore)")
        d.rep.say("rolling back to %s" % short(previous))
        try:
            self.roll_back(previous)
        except StepError as rb_exc:
            return d.finish("failed", ExitCode.FAILED, "%s; rollback failed: %s" % (error, rb_exc))
        return d.finish("rolled_back", ExitCode.ROLLED_BACK, error)

    # -- the steps of its own

    def backup(self) -> str:
        d, state = self.d, self.d.state
        if state.backup_path:
            return "reusing %s (made before the interrupted deploy)" % state.backup_path
        app_dir = d.where.app_dir
        if not os.path.isdir(app_dir) or not os.listdir(app_dir):
            return "nothing to back up (no app files yet)"
        backups = Backups(d.where, d.p.backup_retention)
        path, links = backups.create(d.p.deploy_id, state.head, state.previous_sha)
        state.backup_path = path
        d.journal.save()
        pruned = backups.prune(spare=path)
        return "%s (%.1f MB%s%s)" % (path, os.path.getsize(path) / 1e6, ", %d symlink(s) kept as links" % links
                                     if links else "", ", %d old pruned" % len(pruned) if pruned else "")

    def sync(self) -> str:
        d, sha, state = self.d, self.d.p.sha, self.d.state
        d.git.ensure_repo()
        d.git.remove_stale_locks()
        fetched = d.git.fetch(sha)
        if not state.recovering and state.head:
            state.discarded = d.git.local_changes(sha)
        # From here on the work tree may differ from the backup: a failure rolls back.
        state.dirty = True
        d.journal.save()
        d.git.checkout(sha)
        notes = ["HEAD %s" % short(sha), fetched]
        if state.discarded:
            notes.append("discarded %d local change(s): %s" % (
                len(state.discarded), ", ".join(cap_list(state.discarded, 5))))
        return "; ".join(n for n in notes if n)

    # -- the rollback

    def roll_back(self, previous: str) -> None:
        """Previous commit and files, its requirements, its process, its health."""
        d = self.d
        old_pid = d.state.old_pid
        keep_old = d.app.untouched(old_pid)
        if not keep_old:
            d.step("rollback-stop", d.app.stop)
        d.step("rollback-sync", lambda: self.restore_files(previous))
        d.step("rollback-deps", d.env.restore)
        if keep_old and old_pid is not None:
            d.step("rollback-verify", lambda: d.app.verify_kept(old_pid))
        else:
            d.restart(previous)

    def restore_files(self, sha: str) -> str:
        """The previous commit from git; the server-local changes it dropped from the backup, or every file
        from the backup when git fails."""
        d = self.d
        backup, discarded = d.state.backup_path, d.state.discarded
        try:
            d.git.checkout(sha)
            note = "HEAD %s" % short(sha)
        except StepError as exc:
            if not backup:
                raise
            failed = restore_from_backup(backup, d.where.app_dir)
            if failed:  # without git the backup is the version: a part of it would not run
                raise StepError("git failed (%s) and the backup is damaged: %s" % (exc, "; ".join(failed[:3])))
            return "git failed (%s): restored every file from %s" % (exc, backup)
        if backup and discarded:  # git put the commit back: a damaged backup costs only the local changes
            failed = restore_from_backup(backup, d.where.app_dir, discarded)
            note += "; %d local change(s) restored from the backup" % (len(discarded) - len(failed))
            if failed:
                d.rep.warn("the rollback could not restore from %s: %s" % (backup, ", ".join(cap_list(failed, 10))))
        return note
