"""The app's process: the hooks around it, its secrets, stop, start, and verify (alive, healthy).

The app's processes are the one in the PID file ``app.json`` while it is the process
recorded there (its pid and start time), and any process running the app's command
exactly as started, from the app's own venv (host.AppMatch; never a command's shape
alone, which another app may share). "stop" ends every such process (the PID file's
and any orphan left by a killed agent), gracefully first, forced after ``stop_timeout``;
with ``app_host: service`` the service is stopped first (service.py). Gracefully is SIGTERM
on Linux; on Windows, where no signal reaches a window-less app, the agent creates the
stop-request file named in the app's ``DEPLOY_STOP_FILE`` (an app opts in by exiting when it
appears).
"""

from __future__ import annotations

import contextlib
import os
import subprocess  # nosec B404 # only for the type of the started app
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from ssm_action.agent import app_command, last_words
from ssm_action.agent.errors import StepError
from ssm_action.agent.files import StateDir
from ssm_action.agent.health import Rule, poll, wait_healthy
from ssm_action.agent.host import START_WARNING, AppMatch, Platform
from ssm_action.agent.journal import DeployState
from ssm_action.agent.layout import PID_FILE, SERVICE_SPEC, STOP_REQUEST, Layout
from ssm_action.agent.output import MIN_SECRET, Reporter, short, utc_now
from ssm_action.agent.shell import Shell
from ssm_action.contract.params import AgentParams
from ssm_action.contract.secret_refs import ref_texts

if TYPE_CHECKING:  # shipped only to deploys that use it (payload.FEATURES)
    from ssm_action.agent.service import Service

HOOK_TIMEOUT = 600
APP_LOG_ROTATE_BYTES = 10 * 1024 * 1024


class App:
    def __init__(self, plat: Platform, shell: Shell, records: StateDir, where: Layout,
                 params: AgentParams, state: DeployState) -> None:
        self.plat = plat
        self.shell = shell
        self.rep: Reporter = shell.rep
        self.records = records
        self.where = where
        self.p = params
        self.state = state
        self.command = app_command.resolve(plat, where, params)
        self.service: Optional[Service] = None
        if params.app_host in ("service", "task"):
            from ssm_action.agent import service
            self.service = service.Service(plat, shell, records, where, params)
        self.secrets: Dict[str, str] = {}  # values: in memory only, redacted from every line
        self.proc: Optional[subprocess.Popen[bytes]] = None  # the process this deploy started
        self.started = False
        self.record: Dict[str, Any] = {}  # the started app's, as written to PID_FILE
        self.installed = False  # this deploy wrote the service's definition
        self.log_offset = 0  # where its output starts in the app log
        self.health_code: Optional[int] = None
        self.health = "not_checked"
        self.stop_request = records.path(STOP_REQUEST)
        self.leftover: Optional[Service] = None  # a service this deploy installed that the version put back lacks
        self.retired: Optional[Service] = None  # the service of an earlier deploy, removed by this one

    def as_started_with(self, params: AgentParams) -> "App":
        """The app under another version's start parameters (a rollback's), keeping what this
        deploy read and did: its secrets if the references are the same, the service it installed."""
        other = App(self.plat, self.shell, self.records, Layout.of(params), params, self.state)
        if params.app_secrets == self.p.app_secrets:
            other.secrets = self.secrets
        else:
            other.read_secrets(strict=False)
        if other.service:
            other.installed = self.installed or self.retired is not None
        elif self.installed:
            other.leftover = self.service
        return other

    def environment(self, sha: Optional[str]) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.p.app_env)
        env.update(self.secrets)
        env.update(DEPLOY_ID=self.p.deploy_id, DEPLOY_SHA=sha or "",
                   DEPLOY_PREVIOUS_SHA=self.state.previous_sha or "",
                   DEPLOY_APP_DIR=self.where.app_dir, DEPLOY_VENV=self.where.venv,
                   PYTHONUNBUFFERED="1")
        if self.plat.stops_by_request_file:
            env["DEPLOY_STOP_FILE"] = self.stop_request
        return env

    def read_secrets(self, strict: bool = True) -> str:
        """Every secret's value, read before anything is stopped (a failure changes nothing); one
        too short to redact is refused (``strict``) or, for a version put back, warned about."""
        if not self.p.app_secrets:
            return "no app secrets"
        from ssm_action.agent.secrets import resolve
        refs = self.p.app_secrets  # parsed once, with the parameters
        self.secrets = resolve(refs)
        self.rep.redact.add(self.secrets.values())
        short = sorted(k for k, v in self.secrets.items() if len(v) < MIN_SECRET)
        if short:  # it could not be told from ordinary text in the output, so it would show
            why = "app secret(s) %s: shorter than %d characters, too short to redact from the output: use a " \
                  "longer value" % (", ".join(short), MIN_SECRET)
            if strict:
                raise StepError(why)
            self.rep.warn(why)
        return "read %s" % ", ".join(sorted(refs))

    def running(self) -> Dict[str, Any]:
        """The PID file while its process is the one it recorded (same start time; a record of an
        older agent: a python of our venv), else {}. What the file says is never trusted further."""
        app = self.records.read(PID_FILE)
        pid = app.get("pid")
        if not isinstance(pid, int) or not self.plat.alive(pid):
            return {}
        if app.get("start") is not None:
            return app if app["start"] == self.plat.started(pid) else {}
        try:
            return app if pid in self.plat.find_app_pids(self.match(any_command=True)) else {}
        except StepError:  # no process list (Windows): the record cannot be confirmed
            return {}

    def match(self, any_command: bool = False) -> AppMatch:
        venv, folder = self.where.venv, self.where.app_dir
        inside = os.path.normcase(venv).startswith(os.path.normcase(os.path.join(folder, "")))
        return AppMatch(() if any_command else tuple(self.command.argv),
                        os.path.dirname(self.plat.venv_python(venv)), "" if inside else folder)

    def hooks(self, phase: str, sha: Optional[str]) -> str:
        folder = os.path.join(self.where.app_dir, self.p.hooks_dir)
        found = [os.path.join(folder, phase + suffix) for suffix in self.plat.hook_suffixes
                 if os.path.isfile(os.path.join(folder, phase + suffix))]
        for hook in found:
            rel = os.path.relpath(hook, self.where.app_dir)
            argv = self.plat.hook_argv(hook, self.plat.venv_python(self.where.venv))
            ran = self.shell.run(argv, cwd=self.where.app_dir, timeout=HOOK_TIMEOUT,
                                 env=dict(self.environment(sha), DEPLOY_PHASE=phase))
            if ran.code:
                self.rep.say_tail(ran.out + "\n" + ran.err, 5)
                raise StepError("hook %s failed (exit %d)%s: fix or remove the hook" % (
                    rel, ran.code, "; the app was not touched" if phase == "pre-stop" else ""))
        return "ran " + ", ".join(os.path.basename(h) for h in found) if found else "no hook"

    def app_pids(self) -> List[int]:
        """Our app's processes: the PID file's (``running``) and any running our command (an
        orphan of a killed agent), never another app's with the same command."""
        pid = self.running().get("pid")
        return sorted(set(self.plat.find_app_pids(self.match())) | ({pid} if pid else set()))

    def stop(self) -> str:
        """Stop the service, then every process of our app (the PID file's and any orphan)."""
        first = self.service.stop() + "; " if self.service else self.retire()
        pids = self.app_pids()
        recorded = self.records.read(PID_FILE).get("pid")
        note = ""
        if isinstance(recorded, int) and recorded not in pids and self.plat.alive(recorded):
            note = "; pid %d in the PID file is not our app: left alone" % recorded
        if not pids:
            self.records.remove(PID_FILE)
            return first + "no running app" + note
        if self.plat.stops_by_request_file:
            self.records.write(STOP_REQUEST, {"deploy_id": self.p.deploy_id, "pids": pids})
            delivered = True
        else:
            delivered = all([self.plat.terminate(pid, force=False) for pid in pids])
        # Wait for a graceful exit only when every stop request was delivered.
        left = self.wait_gone(pids, self.p.stop_timeout if delivered else 0)
        if left:
            for pid in left:
                self.plat.terminate(pid, force=True)
            if self.wait_gone(left, 10):
                raise StepError("pid(s) %s would not stop: end them by hand" % left)
        self.records.remove(PID_FILE)
        self.records.remove(STOP_REQUEST)
        return first + "stopped pid %s%s%s" % (", ".join(map(str, pids)),
                                               " (forced)" if left else "", note)

    def retire(self) -> str:
        """With ``app_host: process``, a service an earlier deploy installed is stopped and removed
        (kept for a rollback), else it would start the old definition at the next boot."""
        if not os.path.isfile(self.records.path(SERVICE_SPEC)):
            return ""
        try:
            from ssm_action.agent import service
        except ImportError:  # a process host's agent carries no service modules (payload.FEATURES)
            return "an app-host service of an earlier deploy is still installed: remove it by hand; "
        self.retired = service.Service(self.plat, self.shell, self.records, self.where, self.p)
        note = self.retired.retire()
        return note + "; " if note else ""

    def wait_gone(self, pids: List[int], timeout: float) -> List[int]:
        """The pids still alive after ``timeout`` (polled, returns as soon as all are gone)."""
        left = pids

        def gone() -> bool:
            nonlocal left
            left = [pid for pid in left if self.plat.alive(pid)]
            return not left

        poll(gone, timeout, 0.005, 0.2)
        return left

    def untouched(self, pid: Optional[int]) -> bool:
        """Whether the app that ran before the deploy (``pid``) still runs, never stopped."""
        return not self.started and pid is not None and pid in self.app_pids()

    def start(self, sha: str, rollback: bool = False) -> str:
        # Resolved again: the venv (and Windows' pythonw.exe in it) may be new since __init__.
        self.command = app_command.resolve(self.plat, self.where, self.p)
        app_command.check(self.command, self.p, sha)
        self.records.remove(STOP_REQUEST)  # left by a killed agent: not for the new app
        app_log = self.where.app_log
        with contextlib.suppress(OSError):  # on Windows a running app may still hold it
            if os.path.getsize(app_log) > APP_LOG_ROTATE_BYTES:
                os.replace(app_log, app_log + ".1")
        argv = self.command.argv
        self.rep.log("$ " + " ".join(argv))
        with open(app_log, "ab", buffering=0) as out:
            with contextlib.suppress(OSError):  # a full disk: the app still starts (a rollback's must)
                out.write(("=== %s deploy %s starts %s\n" % (
                    utc_now(), self.p.deploy_id, short(sha))).encode("utf-8"))
            self.log_offset = out.tell()
            if self.service:
                note = self.start_service(sha, rollback)
                pid = self.service.pid()
            else:
                # the version put back ran as a process: the service this deploy installed goes
                note = "; " + self.leftover.restore_previous() if rollback and self.leftover else ""
                self.proc, started = self.plat.start(argv, self.where.app_dir, self.environment(sha),
                                                     out)
                pid, note = self.proc.pid, ": %s%s%s" % (" ".join(argv), started, note)
                if started.startswith(START_WARNING):  # e.g. the app stays in the SSM Agent's job
                    self.rep.warn(started[len(START_WARNING):])
        self.started = True
        self.record = {"sha": sha, "argv": argv, "deploy_id": self.p.deploy_id, "started": utc_now()}
        self.write_record(pid)
        return "pid %s%s" % (pid, note)

    def start_service(self, sha: str, rollback: bool) -> str:
        """Install (or, in a rollback, restore) the definition, then start the service."""
        assert self.service is not None  # nosec B101 # only with app_host service
        if rollback and self.installed:
            done = self.service.restore_previous()
        elif rollback:
            done = "definition unchanged"
        else:
            plain = {k: v for k, v in self.environment(sha).items()
                     if k in self.p.app_env or k.startswith("DEPLOY_") or k == "PYTHONUNBUFFERED"}
            done = self.service.install(self.command.argv, plain, ref_texts(self.p.app_secrets), sha)
            self.installed = True
        return ": %s; %s" % (done, self.service.start())

    def verify_started(self) -> str:
        proc, service = self.proc, self.service
        if service:
            detail = self.verify(service.alive, service.pid() or 0, self.p.start_grace) + service.settled()
            pid = service.pid()
            if pid and pid != self.record.get("pid"):  # a Windows service writes it once it started the app
                self.write_record(pid)
            return detail
        assert proc is not None  # nosec B101 # the start step ran before verify
        return self.verify(lambda: proc.poll() is None, proc.pid, self.p.start_grace)

    def write_record(self, pid: Optional[int]) -> None:
        """The app's record with its pid and that process's start time (status and the next stop read it)."""
        self.record.update(pid=pid, start=pid and self.plat.started(pid))
        try:
            self.records.write(PID_FILE, self.record)
        except OSError as exc:  # it runs: a rollback goes on to verify it; the next stop finds it by its command
            self.rep.warn("the PID file could not be written (%s)" % exc)

    def verify_kept(self, pid: int) -> str:
        """The app that was never stopped: still alive and healthy."""
        return "the previous app kept running; " + self.verify(
            lambda: self.plat.alive(pid), pid, 0)

    def verify(self, alive: Callable[[], bool], pid: int, grace: float) -> str:
        """Alive through the grace, then a healthy answer from the health URL (health.wait_healthy)."""
        poll(lambda: not alive(), grace, 0.05, 0.05)
        if not alive():
            raise StepError(self.died(pid))
        url = self.p.health_url
        if not url:
            return "pid %d alive after %gs (no health URL)" % (pid, grace)
        self.health = "unhealthy"
        timeout = self.p.health_timeout
        answer, why = wait_healthy(
            url, Rule(self.p.health_status, self.p.health_contains), timeout, alive)
        self.health_code = answer.status
        if not alive():
            raise StepError(self.died(pid))
        if why:
            raise StepError("%s %s for %gs: check the app log" % (url, why, timeout))
        self.health = "healthy"
        return "pid %d: %s answered %d" % (pid, url, self.health_code or 0)

    def died(self, pid: int) -> str:
        """Why the app is gone: its exit code and its last words (redacted)."""
        if self.service:
            code = self.service.exit_code()
        else:
            code = self.proc.returncode if self.proc and self.proc.pid == pid else None
        text = last_words.read_since(self.where.app_log, self.log_offset)
        lines = last_words.last_lines(text, self.rep.redact)
        for line in lines:
            self.rep.say("    app: " + line)
        return last_words.exit_message(code, lines)
