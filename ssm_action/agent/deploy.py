"""One deploy: the steps in order, and the rollback when a step fails after the tree changed."""

from __future__ import annotations

import os
import time
import traceback
from typing import Any, Callable, Dict, Optional

from ssm_action.agent import history
from ssm_action.agent.app import App
from ssm_action.agent.errors import Busy, StepError
from ssm_action.agent.files import StateDir, inside, keep_newest
from ssm_action.agent.git import Git
from ssm_action.agent.host import Platform
from ssm_action.agent.journal import DeployState, Journal
from ssm_action.agent.layout import Layout
from ssm_action.agent.lock import DeployLock
from ssm_action.agent.output import Reporter, cap_error, cap_list, short, utc_stamp
from ssm_action.agent.shell import Shell
from ssm_action.agent.venv import Environment
from ssm_action.contract import AgentParams, AgentResult, ExitCode

STEPS = ("lock", "secrets", "record", "backup", "sync", "deps", "pre-stop", "stop", "start", "verify",
         "post-start")
LOGS_KEPT = 20


class Deploy:
    def __init__(self, params: AgentParams, plat: Platform, rep: Reporter) -> None:
        self.p = params
        self.plat = plat
        self.rep = rep
        self.where = where = Layout.of(params)
        self.records = StateDir(where.state_dir, warn=self.said_warning)
        self.state = DeployState(params.deploy_id, params.sha)
        self.journal = Journal(self.records, self.state)
        self.lock = DeployLock(self.records, plat)
        shell = Shell(rep)
        self.git = Git(shell, where.app_dir, params.git_remote, params.branch)
        self.env = Environment(shell, plat, self.records, where, params)
        self.app = App(plat, shell, self.records, where, params, self.state)

    def said_warning(self, text: str) -> None:
        self.rep.say("warning: " + text)
        self.rep.warn(text)

    def step(self, name: str, action: Callable[[], str]) -> None:
        """Run one step: journal its phase, time it, print its line."""
        self.rep.log("--- " + name)
        started = time.monotonic()
        try:
            self.journal_phase(name)
            detail = action()
        except StepError as exc:
            self.rep.step_line(name, False, time.monotonic() - started, str(exc))
            raise
        except Exception as exc:  # a bug or an OS error: still report, roll back
            self.rep.log(traceback.format_exc())
            message = "%s: %s" % (type(exc).__name__, exc)
            self.rep.step_line(name, False, time.monotonic() - started, message)
            raise StepError(message)
        self.rep.step_line(name, True, time.monotonic() - started, detail)

    def journal_phase(self, name: str) -> None:
        """Journal the step about to run (the journal is ours only while we hold the lock). A deploy step
        that cannot fails (and rolls back); a rollback step goes on: the journal on disk already names
        what it puts back, and the next deploy recovers from it."""
        if not self.lock.held:
            return
        self.state.phase = name
        try:
            self.journal.save()
        except OSError as exc:
            if not name.startswith("rollback-"):
                raise
            self.state_unwritable(exc)

    def state_unwritable(self, exc: OSError) -> None:
        text = "the state folder %s could not be written (%s): free space there" % (self.where.state_dir, exc)
        if text not in self.rep.warnings:  # once, not at every step that follows
            self.rep.warn(text)

    # -- the run

    def run(self) -> int:
        logs = self.records.path("logs")
        os.makedirs(logs, exist_ok=True)
        self.rep.open_log(os.path.join(logs, "%s-%s.log" % (utc_stamp(fraction=True),
                                                            self.p.deploy_id)))
        self.rep.say("deploy %s: %s%s -> %s" % (
            self.p.deploy_id, short(self.p.sha),
            " (%s)" % self.p.branch if self.p.branch else "", self.where.app_dir))
        try:
            self.step("lock", self.take_lock)
        except Busy as exc:
            return self.finish("busy", ExitCode.BUSY, str(exc))
        except StepError as exc:
            return self.finish("failed", ExitCode.FAILED, "lock: %s" % exc)
        try:
            return self.deploy()
        finally:
            self.lock.release()

    def deploy(self) -> int:
        if self.p.source == "artifact":  # imported here: the artifact modules ship only with such deploys
            from ssm_action.agent.delivery import ArtifactDeploy
            return ArtifactDeploy(self).run()
        sha = self.p.sha
        actions = {
            "secrets": self.app.read_secrets, "record": self.record, "backup": self.backup, "sync": self.sync,
            "deps": self.env.deps, "pre-stop": lambda: self.app.hooks("pre-stop", sha),
            "stop": self.app.stop, "start": lambda: self.app.start(sha),
            "verify": self.app.verify_started,
            "post-start": lambda: self.app.hooks("post-start", sha),
        }
        failed_step = ""
        try:
            for name in STEPS[1:]:
                failed_step = name
                self.step(name, actions[name])
                if name == "stop" and self.env.deferred is not None:  # Windows: see venv.py
                    failed_step = "venv"
                    self.step("venv", self.env.rebuild)
        except StepError as exc:
            return self.fail(failed_step, exc)
        history.record_good(self.records, self.p, self.state.backup_path)
        self.git.mark_good(sha)
        return self.finish("success", ExitCode.OK)

    def fail(self, step: str, exc: StepError) -> int:
        error = "%s: %s" % (step, exc)
        if not self.state.dirty:
            return self.finish("failed", ExitCode.FAILED, error + " (nothing was changed)")
        if not self.p.rollback:
            return self.finish("failed", ExitCode.FAILED, error + " (rollback is off)")
        if self.state.previous_sha is None:
            return self.finish("failed", ExitCode.FAILED,
                               error + " (no previous version to restore)")
        self.rep.say("rolling back to %s" % short(self.state.previous_sha))
        try:
            self.roll_back(self.state.previous_sha)
        except StepError as rb_exc:
            return self.finish("failed", ExitCode.FAILED,
                               "%s; rollback failed: %s" % (error, rb_exc))
        return self.finish("rolled_back", ExitCode.ROLLED_BACK, error)

    def finish(self, status: str, code: ExitCode, error: Optional[str] = None) -> int:
        running: Dict[str, Any] = {}
        if self.lock.held:
            running = self.app.running()
            for keep in (lambda: history.record_outcome(self.records, self.p, status, error), self.journal.remove,
                         lambda: keep_newest(self.records.path("logs"), r".+Z-.+\.log", LOGS_KEPT,
                                             spare=[self.rep.log_path or ""])):
                try:
                    keep()
                except OSError as exc:  # the result line still comes
                    self.state_unwritable(exc)
        self.rep.say("result: %s%s" % (status, ": " + error if error else ""))
        state = self.state
        self.rep.result(AgentResult(
            status, error=cap_error(error), deploy_id=self.p.deploy_id,
            target_sha=self.p.sha, previous_sha=state.previous_sha,
            running_sha=running.get("sha"), backup_path=state.backup_path,
            health=self.app.health, health_status=self.app.health_status,
            pid=running.get("pid"), log_file=self.rep.log_path, python=self.env.python_version,
            rolled_back=status == "rolled_back", steps=self.rep.steps,
            discarded_changes=cap_list(state.discarded, 50), action=self.p.action).to_dict())
        return code

    # -- the steps of its own (the others belong to git, env and app)

    def take_lock(self) -> str:
        detail = self.lock.take(self.p.deploy_id)
        self.journal.take_over()
        return detail

    def record(self) -> str:
        """What runs now and what a rollback would put back (a killed deploy's, if any)."""
        state, prior = self.state, self.journal.prior
        last_good = history.last_good(self.records)
        app = self.app.running()
        state.old_pid = app.get("pid")
        state.head = self.git.head()
        state.recovering = prior is not None and prior.interrupted(last_good)
        notes = []
        if prior is not None and state.recovering:
            # A killed deploy left the tree half-changed: its "previous" is still ours.
            state.previous_sha, state.previous_start = prior.previous_sha, prior.previous_start
            backup = prior.backup_path  # read from disk: used only if it is one of this app's backups
            state.backup_path = backup if backup and os.path.isfile(backup) and inside(
                self.where.backup_dir, backup) else None
            state.discarded = list(prior.discarded or [])
            notes.append("deploy %s was interrupted during %s: recovering" % (
                prior.deploy_id, prior.phase))
        else:
            state.previous_sha = last_good.get("sha") or state.head
            state.previous_start = last_good.get("started_with") if state.previous_sha == last_good.get(
                "sha") else None
        state.dirty = state.recovering
        self.journal.save()
        running = ("running %s pid %d" % (short(app.get("sha")), state.old_pid)
                   if state.old_pid else "no app process recorded")
        return "; ".join(["previous %s, %s" % (short(state.previous_sha), running)] + notes)

    def backup(self) -> str:
        from ssm_action.agent.backups import backup_step  # git deploys only (payload.GIT_ONLY)
        return backup_step(self)

    def sync(self) -> str:
        sha, state = self.p.sha, self.state
        self.git.ensure_repo()
        self.git.remove_stale_locks()
        fetched = self.git.fetch(sha)
        if not state.recovering and state.head:
            state.discarded = self.git.local_changes(sha)
        # From here on the work tree may differ from the backup: a failure rolls back.
        state.dirty = True
        self.journal.save()
        self.git.checkout(sha)
        notes = ["HEAD %s" % short(sha), fetched]
        if state.discarded:
            notes.append("discarded %d local change(s): %s" % (
                len(state.discarded), ", ".join(cap_list(state.discarded, 5))))
        return "; ".join(n for n in notes if n)

    # -- rollback

    def roll_back(self, previous: str) -> None:
        """Previous commit and files, its requirements, its process, its health."""
        old_pid = self.state.old_pid
        keep_old = self.app.untouched(old_pid)
        if not keep_old:
            self.step("rollback-stop", self.app.stop)
        self.step("rollback-sync", lambda: self.restore_files(previous))
        self.step("rollback-deps", self.env.restore)
        if keep_old and old_pid is not None:
            self.step("rollback-verify", lambda: self.app.verify_kept(old_pid))
        else:
            self.restart(previous)

    def restart(self, previous: str) -> None:
        """Start the version put back as it was started (its recorded command, variables, host)."""
        wanted = history.put_back_params(self.p, self.state.previous_start, self.rep)
        app = self.app = self.app.as_started_with(wanted)
        self.step("rollback-start", lambda: app.start(previous, rollback=True))
        self.step("rollback-verify", app.verify_started)

    def restore_files(self, sha: str) -> str:
        from ssm_action.agent.backups import restore_files
        return restore_files(self, sha)
