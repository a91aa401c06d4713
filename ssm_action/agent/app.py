"""The app's process: the hooks around it, stop, start, and verify (alive, then healthy).

The app is identified by its command line: a python executable running the
absolute entry path. "stop" ends every such process (the one in the PID file
``app.json`` and any orphan left by a killed agent), gracefully first, forced
after ``stop_timeout``. Gracefully is SIGTERM on Linux; on Windows, where no
signal reaches a window-less app, the agent creates the stop-request file named
in the app's ``DEPLOY_STOP_FILE`` (an app opts in by exiting when it appears).
"""

from __future__ import annotations

import contextlib
import os
import subprocess  # nosec B404 # only for the type of the started app
import time
from typing import Any, Callable, Dict, List, Optional

from ssm_action.agent.errors import StepError
from ssm_action.agent.files import StateDir
from ssm_action.agent.health import http_status, poll
from ssm_action.agent.host import Platform
from ssm_action.agent.journal import DeployState
from ssm_action.agent.layout import Layout
from ssm_action.agent.output import Reporter, short, utc_now
from ssm_action.agent.shell import Shell

HOOK_TIMEOUT = 600
APP_LOG_ROTATE_BYTES = 10 * 1024 * 1024
PID_FILE = "app.json"
STOP_REQUEST = "stop-request"


class App:
    def __init__(self, plat: Platform, shell: Shell, records: StateDir, where: Layout,
                 params: Dict[str, Any], state: DeployState) -> None:
        self.plat = plat
        self.shell = shell
        self.rep: Reporter = shell.rep
        self.records = records
        self.where = where
        self.p = params
        self.state = state
        self.proc: Optional[subprocess.Popen[bytes]] = None  # the process this deploy started
        self.log_offset = 0  # where its output starts in the app log
        self.health_status: Optional[int] = None
        self.health = "not_checked"
        self.stop_request = records.path(STOP_REQUEST)

    def environment(self, sha: Optional[str]) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.p["app_env"])
        env.update(DEPLOY_ID=self.p["deploy_id"], DEPLOY_SHA=sha or "",
                   DEPLOY_PREVIOUS_SHA=self.state.previous_sha or "",
                   DEPLOY_APP_DIR=self.where.app_dir, DEPLOY_VENV=self.where.venv,
                   PYTHONUNBUFFERED="1")
        if self.plat.stops_by_request_file:
            env["DEPLOY_STOP_FILE"] = self.stop_request
        return env

    def running(self) -> Dict[str, Any]:
        """The PID file when its pid is alive, else {}."""
        app = self.records.read(PID_FILE)
        return app if isinstance(app.get("pid"), int) and self.plat.alive(app["pid"]) else {}

    def hooks(self, phase: str, sha: Optional[str]) -> str:
        folder = os.path.join(self.where.app_dir, self.p["hooks_dir"])
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

    def stop(self) -> str:
        """Stop every process running our entry script (the PID file's and any orphan)."""
        pids = self.plat.find_app_pids(self.where.entry)
        recorded = self.running().get("pid")
        note = ""
        if recorded is not None and recorded not in pids:
            note = "; pid %d in the PID file is not our app: left alone" % recorded
        if not pids:
            self.records.remove(PID_FILE)
            return "no running app" + note
        if self.plat.stops_by_request_file:
            self.records.write(STOP_REQUEST, {"deploy_id": self.p["deploy_id"], "pids": pids})
            delivered = True
        else:
            delivered = all([self.plat.terminate(pid, force=False) for pid in pids])
        # Wait for a graceful exit only when every stop request was delivered.
        left = self.wait_gone(pids, self.p["stop_timeout"] if delivered else 0)
        if left:
            for pid in left:
                self.plat.terminate(pid, force=True)
            if self.wait_gone(left, 10):
                raise StepError("pid(s) %s would not stop: end them by hand" % left)
        self.records.remove(PID_FILE)
        self.records.remove(STOP_REQUEST)
        return "stopped pid %s%s%s" % (", ".join(map(str, pids)),
                                       " (forced)" if left else "", note)

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
        return self.proc is None and pid is not None and pid in self.plat.find_app_pids(
            self.where.entry)

    def start(self, sha: str) -> str:
        if not os.path.isfile(self.where.entry):
            raise StepError("entry script %s is not in commit %s: fix the entry parameter" % (
                self.p["entry"], short(sha)))
        self.records.remove(STOP_REQUEST)  # left by a killed agent: not for the new app
        app_log = self.where.app_log
        with contextlib.suppress(OSError):  # on Windows a running app may still hold it
            if os.path.getsize(app_log) > APP_LOG_ROTATE_BYTES:
                os.replace(app_log, app_log + ".1")
        with open(app_log, "ab") as out:
            out.write(("=== %s deploy %s starts %s\n" % (
                utc_now(), self.p["deploy_id"], short(sha))).encode("utf-8"))
            out.flush()
            self.log_offset = out.tell()
            argv = [self.plat.app_python(self.where.venv), self.where.entry]
            self.rep.log("$ " + " ".join(argv))
            self.proc, note = self.plat.start(argv, self.where.app_dir, self.environment(sha),
                                              out)
        self.records.write(PID_FILE, {"pid": self.proc.pid, "sha": sha, "argv": argv,
                                      "deploy_id": self.p["deploy_id"], "started": utc_now()})
        return "pid %d: %s%s" % (self.proc.pid, " ".join(argv), note)

    def verify_started(self) -> str:
        proc = self.proc
        assert proc is not None  # nosec B101 # the start step ran before verify
        return self.verify(lambda: proc.poll() is None, proc.pid, self.p["start_grace"])

    def verify_kept(self, pid: int) -> str:
        """The app that was never stopped: still alive and healthy."""
        return "the previous app kept running; " + self.verify(
            lambda: self.plat.alive(pid), pid, 0)

    def verify(self, alive: Callable[[], bool], pid: int, grace: float) -> str:
        """Alive through the grace, then a 2xx from the health URL (polled with backoff)."""
        poll(lambda: not alive(), grace, 0.05, 0.05)
        if not alive():
            raise StepError(self.died(pid))
        url = self.p["health_url"]
        if not url:
            return "pid %d alive after %gs (no health URL)" % (pid, grace)
        self.health = "unhealthy"
        timeout = self.p["health_timeout"]
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            self.health_status = http_status(url, max(0.5, min(5.0, deadline - time.monotonic())))
            if self.health_status is not None and 200 <= self.health_status < 300 and alive():
                self.health = "healthy"  # and answered while ours was alive
                return "pid %d: %s answered %d" % (pid, url, self.health_status)
            if not alive():
                raise StepError(self.died(pid))
            if time.monotonic() >= deadline:
                raise StepError("%s answered %s for %gs: check the app log" % (
                    url, self.health_status or "nothing", timeout))
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 2.0)

    def died(self, pid: int) -> str:
        """Why the app is gone: its exit code and the last lines it wrote."""
        code = self.proc.returncode if self.proc and self.proc.pid == pid else None
        text = ""
        with contextlib.suppress(OSError):
            with open(self.where.app_log, "rb") as handle:
                handle.seek(self.log_offset)
                text = handle.read().decode("utf-8", "replace")
        lines = self.rep.say_tail(text, 8, "    app: ")
        return "the app (pid %d) exited%s; last output: %s" % (
            pid, " with code %d" % code if code is not None else "",
            lines[-1] if lines else "none")
