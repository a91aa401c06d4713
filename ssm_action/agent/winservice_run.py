"""The Windows service's own process: answers the SCM and supervises the app.

``python.exe -I agent.pyz --service <name> <spec>`` (the binary winservice.py registers).
``StartServiceCtrlDispatcherW`` hands the SCM this thread; the SCM calls ``service_main`` on
one of its own, which registers the control handler and runs the app as the launcher does
(launcher.py: secrets read at each start, never written anywhere; restarted after a non-zero
exit with backoff). States: START_PENDING until the app's first start, RUNNING, then on STOP
or shutdown STOP_PENDING while the app is asked to stop (the stop-request file named in its
DEPLOY_STOP_FILE), ``stop_timeout`` seconds, then its process tree ended; STOPPED is reported
only once the app's process is gone. The app's starts and exits, a forced end, the service's stop
and a start that cannot be done are written to the Application event log too (source: the
service's name; EVENTS), where administrators look first.
"""

from __future__ import annotations

import ctypes
import os
import subprocess  # nosec B404 # running the app is this module's job
import threading
import time
import traceback
from ctypes import wintypes
from typing import IO, Any, Dict, List, Optional

from ssm_action.agent import launcher
from ssm_action.agent.errors import StepError
from ssm_action.agent.winservice import SERVICE_STATUS, SERVICE_WIN32_OWN_PROCESS, advapi32

STOPPED, START_PENDING, STOP_PENDING, RUNNING = 1, 2, 3, 4
CONTROL_STOP, CONTROL_INTERROGATE, CONTROL_SHUTDOWN = 1, 4, 5
ACCEPT_STOP, ACCEPT_SHUTDOWN = 0x1, 0x4
ERROR_SERVICE_SPECIFIC = 1066
NO_ERROR = 0
DEFAULT_STOP_TIMEOUT = 15.0
HINT_MS = 30000
# Event Log lines: EVENTS[i] is the type of event ID 1000 + i (4 information, 2 warning, 1 error). No
# message file is registered: Event Viewer prefaces the text with "The description ... cannot be found".
EVENTS = (4, 4, 2, 2, 1)  # 1000 starting, 1001 stopped, 1002 exited, 1003 ended, 1004 cannot start

_FUNCTYPE = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)  # importable off Windows (tests, payload checks)
SERVICE_MAIN = _FUNCTYPE(None, wintypes.DWORD, ctypes.POINTER(wintypes.LPWSTR))
HANDLER_EX = _FUNCTYPE(
    wintypes.DWORD, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p, ctypes.c_void_p)


class SERVICE_TABLE_ENTRYW(ctypes.Structure):
    _fields_ = [("lpServiceName", wintypes.LPWSTR), ("lpServiceProc", SERVICE_MAIN)]


class Stopping(Exception):
    """A stop came while the service waited (for the secrets, or before a restart)."""


class ServiceProcess:
    def __init__(self, name: str, spec_path: str, api: Any = None) -> None:
        self.name = name
        self.spec_path = spec_path
        self.api = api or advapi32()
        self.api.RegisterServiceCtrlHandlerExW.restype = ctypes.c_void_p
        self.api.RegisterServiceCtrlHandlerExW.argtypes = (wintypes.LPCWSTR, HANDLER_EX, ctypes.c_void_p)
        self.api.SetServiceStatus.argtypes = (ctypes.c_void_p, ctypes.POINTER(SERVICE_STATUS))
        self.api.RegisterEventSourceW.restype = ctypes.c_void_p  # a handle: 64 bits, passed back as c_void_p
        self.stopping = threading.Event()
        self.handle: Optional[int] = None
        self.status = SERVICE_STATUS(SERVICE_WIN32_OWN_PROCESS, START_PENDING, 0, 0, 0, 0, HINT_MS)
        self.lock = threading.Lock()
        self.callbacks = (SERVICE_MAIN(self.service_main), HANDLER_EX(self.handler))  # kept alive
        self.exit_code = 0

    def report(self, state: int, hint_ms: int = 0, code: int = 0) -> None:
        with self.lock:
            s = self.status
            s.dwCurrentState = state
            s.dwControlsAccepted = 0 if state in (START_PENDING, STOPPED) else ACCEPT_STOP | ACCEPT_SHUTDOWN
            s.dwCheckPoint = 0 if state in (RUNNING, STOPPED) else s.dwCheckPoint + 1
            s.dwWaitHint = hint_ms
            s.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC if code else NO_ERROR
            s.dwServiceSpecificExitCode = code
            if self.handle:
                self.api.SetServiceStatus(self.handle, ctypes.byref(s))

    def note(self, log: IO[bytes], text: str, event: int) -> None:
        """A line in the app log and in the Application event log (best effort: a refused
        ReportEventW never stops the service)."""
        launcher.note(log, text)
        source = self.api.RegisterEventSourceW(None, self.name)
        if source:  # ReportEventW's other arguments fit ctypes' defaults (ints, NULL, an array's pointer)
            source = ctypes.c_void_p(source)
            self.api.ReportEventW(source, EVENTS[event - 1000], 0, event, None, 1, 0,
                                  (wintypes.LPCWSTR * 1)(text), None)
            self.api.DeregisterEventSource(source)

    def handler(self, control: int, event: int, data: Any, context: Any) -> int:
        if control in (CONTROL_STOP, CONTROL_SHUTDOWN):
            self.stopping.set()
            self.report(STOP_PENDING, HINT_MS)
        elif control == CONTROL_INTERROGATE:
            self.report(self.status.dwCurrentState, self.status.dwWaitHint)
        return NO_ERROR

    def dispatch(self) -> int:
        """Hand this thread to the SCM until the service stops; 2 when not run by the SCM."""
        table = (SERVICE_TABLE_ENTRYW * 2)(SERVICE_TABLE_ENTRYW(self.name, self.callbacks[0]),
                                           SERVICE_TABLE_ENTRYW(None, SERVICE_MAIN()))
        self.api.StartServiceCtrlDispatcherW.argtypes = (ctypes.POINTER(SERVICE_TABLE_ENTRYW),)
        if not self.api.StartServiceCtrlDispatcherW(table):
            return 2  # ERROR_FAILED_SERVICE_CONTROLLER_CONNECT (1063): started by hand, not by the SCM
        return self.exit_code

    def service_main(self, argc: int, argv: Any) -> None:
        self.handle = self.api.RegisterServiceCtrlHandlerExW(self.name, self.callbacks[1], None)
        if not self.handle:
            return
        self.report(START_PENDING, HINT_MS)
        code = 1
        try:
            spec = launcher.read_spec(self.spec_path)
            with open(spec["log"], "ab") as log:
                try:
                    code = self.supervise(spec, log)
                except StepError as exc:  # the app's command cannot be run at all
                    self.note(log, str(exc), 1004)
                    code = launcher.EX_NOCMD
                self.note(log, "service %s stopped" % self.name, 1001)
        except Exception:  # STOPPED with a code, never a hung START_PENDING; why, beside the spec
            code = launcher.EX_CONFIG
            with open(self.spec_path + ".error.txt", "w", encoding="utf-8") as out:
                traceback.print_exc(file=out)
        self.exit_code = code
        self.report(STOPPED, 0, code)

    def wait(self, seconds: float) -> None:
        """launcher's sleep: interrupted by a stop."""
        if self.stopping.wait(seconds):
            raise Stopping()

    def supervise(self, spec: Dict[str, Any], log: IO[bytes]) -> int:
        """The app, again after each non-zero exit (backoff as the launcher's), until a stop."""
        delay, base = 1.0, dict(os.environ)
        stop_file = (spec.get("env") or {}).get("DEPLOY_STOP_FILE", "")
        while True:
            try:
                if self.status.dwCurrentState == START_PENDING:
                    self.report(RUNNING)  # a start waiting for its secrets still takes a STOP
                env = launcher.readable_environment(spec, base, log, self.wait)
            except Stopping:
                return 0
            if stop_file and os.path.exists(stop_file):
                os.remove(stop_file)  # an old request is not for this app
            child = self.launch(spec, env, log)
            started = time.monotonic()
            while child.poll() is None and not self.stopping.wait(0.5):
                pass
            if self.stopping.is_set():
                return self.end(child, spec, stop_file, log)
            self.note(log, "the app exited with code %d" % child.returncode, 1002)
            if child.returncode == 0:
                return 0
            delay = 1.0 if time.monotonic() - started > launcher.BACKOFF_CAP else min(
                delay * 2, launcher.BACKOFF_CAP)
            try:
                self.wait(delay)
            except Stopping:
                return 0

    def launch(self, spec: Dict[str, Any], env: Dict[str, str], log: IO[bytes]) -> "subprocess.Popen[bytes]":
        self.note(log, "starting %s" % " ".join(spec["argv"]), 1000)
        try:
            child = subprocess.Popen(  # nosec B603 # the app's own command, no shell
                spec["argv"], cwd=spec["cwd"], env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, creationflags=launcher.CREATE_NO_WINDOW)
        except OSError as exc:
            raise launcher.StartError.of(spec, exc)
        launcher.record_pid(spec, child.pid, log)
        return child

    def end(self, child: "subprocess.Popen[bytes]", spec: Dict[str, Any], stop_file: str,
            log: IO[bytes]) -> int:
        """Ask the app to stop, wait ``stop_timeout`` (STOP_PENDING, checkpoints), then end its tree."""
        timeout = float(spec.get("stop_timeout") or DEFAULT_STOP_TIMEOUT)
        if stop_file:
            with open(stop_file, "w", encoding="utf-8") as handle:
                handle.write("service stop\n")
        deadline = time.monotonic() + timeout
        while child.poll() is None and time.monotonic() < deadline:
            self.report(STOP_PENDING, HINT_MS)
            time.sleep(0.25)
        if child.poll() is None:
            self.note(log, "the app did not stop within %gs: ending its process tree" % timeout, 1003)
            from ssm_action.agent.windows import WindowsPlatform
            WindowsPlatform().terminate(child.pid, True)
            while child.poll() is None:  # TerminateProcess is asynchronous
                self.report(STOP_PENDING, HINT_MS)
                time.sleep(0.25)
        launcher.note(log, "the app exited with code %d (service stop)" % child.returncode)
        return 0


def main(argv: List[str]) -> int:
    """``--service NAME SPEC``: the service's binary."""
    if len(argv) != 2:
        return 2
    return ServiceProcess(argv[0], argv[1]).dispatch()
