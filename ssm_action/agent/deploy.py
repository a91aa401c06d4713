"""The deploy pipeline: the lock, the journal, a source's steps in order with their lines, the outcome, and
the restart of the version a rollback puts back (pipeline.py says what a source brings)."""

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
from ssm_action.agent.layout import LOGS, Layout
from ssm_action.agent.lock import DeployLock
from ssm_action.agent.output import Reporter, cap_error, cap_list, short, utc_stamp
from ssm_action.agent.pipeline import Source
from ssm_action.agent.shell import Shell
from ssm_action.agent.venv import Environment
from ssm_action.contract.params import AgentParams
from ssm_action.contract.result import AgentResult, ExitCode

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
        logs = self.records.path(LOGS)
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
        """The source's steps in order; on a failure, the source puts the previous version back."""
        source = self.source()
        failed = ""
        try:
            for name, action in source.steps():
                failed = name
                self.step(name, action)
        except StepError as exc:
            return source.fail(failed, str(exc))
        source.succeeded()
        return self.finish("success", ExitCode.OK)

    def source(self) -> Source:
        """Where the version comes from: the git clone, or an artifact the runner packed."""
        if self.p.source == "artifact":  # imported here: the artifact modules ship only with such deploys
            from ssm_action.agent.delivery import ArtifactSource
            return ArtifactSource(self)
        from ssm_action.agent.git_source import GitSource  # git deploys only (payload.FEATURES)
        return GitSource(self)

    def finish(self, status: str, code: ExitCode, error: Optional[str] = None) -> int:
        running: Dict[str, Any] = {}
        if self.lock.held:
            running = self.app.running()
            for keep in (lambda: history.record_outcome(self.records, self.p, status, error), self.journal.remove,
                         lambda: keep_newest(self.records.path(LOGS), r".+Z-.+\.log", LOGS_KEPT,
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
            health=self.app.health, health_code=self.app.health_code,
            pid=running.get("pid"), log_file=self.rep.log_path, python=self.env.python_version,
            rolled_back=status == "rolled_back", steps=self.rep.steps,
            discarded_changes=cap_list(state.discarded, 50), action=self.p.action).to_dict())
        return code

    # -- the steps every source shares

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

    def restart(self, previous: str) -> None:
        """Start the version put back as it was started (its recorded command, variables, host)."""
        wanted = history.put_back_params(self.p, self.state.previous_start, self.rep)
        app = self.app = self.app.as_started_with(wanted)
        self.step("rollback-start", lambda: app.start(previous, rollback=True))
        self.step("rollback-verify", app.verify_started)
