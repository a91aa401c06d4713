"""Windows service host: the app as a Windows service, through the Service Control Manager.

advapi32 by ctypes (stdlib only). The service's binary is the server's Python running the
agent's copy in the state folder, ``python.exe -I <state>\\agent.pyz --service <name> <spec>``
(winservice_run.py answers the SCM and supervises the app). The service starts at boot
(delayed auto-start), runs as LocalSystem or the account given (a virtual account
``NT SERVICE\\<name>``, a domain account or a gMSA ``DOMAIN\\name$``: never a password), and
the SCM restarts its process after a crash: 5 s, 30 s, then every 60 s, the count reset
after a day.

``stop`` returns only once the service's PROCESS has exited: the SCM's STOPPED alone comes
before the process is gone. The definition in place is kept (JSON) before a new one is
written; ``restore_previous`` writes it back in a rollback.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import ntpath
import os
import re
import time
from ctypes import wintypes
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional

from ssm_action.agent.errors import StepError
from ssm_action.agent.files import keep_copy

if TYPE_CHECKING:
    from ssm_action.agent.scheduled_task import ScheduledTask

SC_MANAGER_ALL_ACCESS = 0xF003F
SERVICE_ALL_ACCESS = 0xF01FF
SERVICE_WIN32_OWN_PROCESS = 0x10
SERVICE_AUTO_START = 2
SERVICE_ERROR_NORMAL = 1
SERVICE_NO_CHANGE = 0xFFFFFFFF
CONFIG_DESCRIPTION, CONFIG_FAILURE_ACTIONS, CONFIG_DELAYED_AUTO_START, CONFIG_FAILURE_FLAG = 1, 2, 3, 4
SC_ACTION_RESTART = 1
CONTROL_STOP = 1
STATES = {1: "stopped", 2: "start_pending", 3: "stop_pending", 4: "running", 5: "continue_pending",
          6: "pause_pending", 7: "paused"}
ERROR_INVALID_LEVEL = 124  # a setting this SCM does not know (Wine's: delayed auto-start)
ERROR_SERVICE_ALREADY_RUNNING = 1056
ERROR_SERVICE_CANNOT_ACCEPT_CTRL = 1061
ERROR_SERVICE_NOT_ACTIVE = 1062
ERROR_SERVICE_DOES_NOT_EXIST = 1060
ERROR_SERVICE_MARKED_FOR_DELETE = 1072
# Restart after 5 s, 30 s, then every 60 s (the last action repeats); the count resets after a day.
RECOVERY = ((SC_ACTION_RESTART, 5000), (SC_ACTION_RESTART, 30000), (SC_ACTION_RESTART, 60000))
RESET_SECONDS = 86400
PROCESS_EXIT_GRACE = 30.0  # after STOPPED or the stop timeout: the process must be gone by then
_ACCOUNT = re.compile(r"(NT SERVICE\\[A-Za-z0-9._-]{1,80}|([A-Za-z0-9._-]{1,15}\\)?[A-Za-z0-9._ -]{1,20}\$?)")


def service_name(app_dir: str) -> str:
    """``ssm-app-<folder>-<hash>``: the folder's name for people, a hash of its full path so
    that two folders of the same name (C:\\srv\\a\\app, D:\\app) never share a service."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", ntpath.basename(ntpath.normpath(app_dir)))[:40] or "app"
    digest = hashlib.sha256(ntpath.normcase(ntpath.normpath(app_dir)).encode("utf-8")).hexdigest()
    return "ssm-app-%s-%s" % (base, digest[:8])


def check_account(user: Optional[str]) -> None:
    if user and not _ACCOUNT.fullmatch(user):
        raise StepError("app user %r is not a Windows service account (NT SERVICE\\NAME, "
                        "DOMAIN\\NAME or a gMSA DOMAIN\\NAME$)" % user)


class SERVICE_STATUS(ctypes.Structure):
    _fields_ = [(name, wintypes.DWORD) for name in (
        "dwServiceType", "dwCurrentState", "dwControlsAccepted", "dwWin32ExitCode",
        "dwServiceSpecificExitCode", "dwCheckPoint", "dwWaitHint")]


class SERVICE_STATUS_PROCESS(ctypes.Structure):
    _fields_ = SERVICE_STATUS._fields_ + [("dwProcessId", wintypes.DWORD),
                                          ("dwServiceFlags", wintypes.DWORD)]


class SC_ACTION(ctypes.Structure):
    _fields_ = [("Type", wintypes.DWORD), ("Delay", wintypes.DWORD)]


class SERVICE_FAILURE_ACTIONSW(ctypes.Structure):
    _fields_ = [("dwResetPeriod", wintypes.DWORD), ("lpRebootMsg", wintypes.LPWSTR),
                ("lpCommand", wintypes.LPWSTR), ("cActions", wintypes.DWORD),
                ("lpsaActions", ctypes.POINTER(SC_ACTION))]


class QUERY_SERVICE_CONFIGW(ctypes.Structure):
    _fields_ = [("dwServiceType", wintypes.DWORD), ("dwStartType", wintypes.DWORD),
                ("dwErrorControl", wintypes.DWORD), ("lpBinaryPathName", wintypes.LPWSTR),
                ("lpLoadOrderGroup", wintypes.LPWSTR), ("dwTagId", wintypes.DWORD),
                ("lpDependencies", wintypes.LPWSTR), ("lpServiceStartName", wintypes.LPWSTR),
                ("lpDisplayName", wintypes.LPWSTR)]


class Status(NamedTuple):
    state: str  # STATES' names; "missing" when there is no such service
    pid: int  # the service's process (0 when it has none)
    exit_code: int


def advapi32() -> Any:
    return ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined]


def _fail(what: str) -> StepError:
    code = ctypes.get_last_error()  # type: ignore[attr-defined]
    return StepError("%s failed: %s" % (what, ctypes.FormatError(code).strip()  # type: ignore[attr-defined]
                                        if code else "no error code"))


class Scm:
    """The calls on one service, each opening and closing its own handles."""

    def __init__(self, name: str, api: Any = None) -> None:
        self.name = name
        self._api = api

    @property
    def api(self) -> Any:
        """advapi32, its signatures declared (loaded at the first call: Windows only)."""
        if self._api is None:
            self._api = self.declare(advapi32())
        return self._api

    @staticmethod
    def declare(a: Any) -> Any:
        a.OpenSCManagerW.restype = a.OpenServiceW.restype = a.CreateServiceW.restype = wintypes.HANDLE
        a.OpenSCManagerW.argtypes = (wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD)
        a.OpenServiceW.argtypes = (wintypes.HANDLE, wintypes.LPCWSTR, wintypes.DWORD)
        a.CreateServiceW.argtypes = (wintypes.HANDLE,) + (wintypes.LPCWSTR,) * 2 + (
            wintypes.DWORD,) * 4 + (wintypes.LPCWSTR,) * 2 + (ctypes.c_void_p,) + (wintypes.LPCWSTR,) * 3
        a.ChangeServiceConfigW.argtypes = (wintypes.HANDLE,) + (wintypes.DWORD,) * 3 + (
            wintypes.LPCWSTR,) * 2 + (ctypes.c_void_p,) + (wintypes.LPCWSTR,) * 4
        a.ChangeServiceConfig2W.argtypes = (wintypes.HANDLE, wintypes.DWORD, ctypes.c_void_p)
        a.QueryServiceConfigW.argtypes = (wintypes.HANDLE, ctypes.c_void_p, wintypes.DWORD,
                                          ctypes.POINTER(wintypes.DWORD))
        a.QueryServiceConfig2W.argtypes = (wintypes.HANDLE, wintypes.DWORD, ctypes.c_void_p,
                                           wintypes.DWORD, ctypes.POINTER(wintypes.DWORD))
        a.QueryServiceStatusEx.argtypes = (wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p,
                                           wintypes.DWORD, ctypes.POINTER(wintypes.DWORD))
        a.StartServiceW.argtypes = (wintypes.HANDLE, wintypes.DWORD, ctypes.c_void_p)
        a.ControlService.argtypes = (wintypes.HANDLE, wintypes.DWORD, ctypes.POINTER(SERVICE_STATUS))
        a.DeleteService.argtypes = a.CloseServiceHandle.argtypes = (wintypes.HANDLE,)
        return a

    def _call(self, work: Callable[[Any], Any], create: Optional[Callable[[Any], Any]] = None) -> Any:
        """``work(service handle)``; None when there is no such service (and no ``create``)."""
        manager = self.api.OpenSCManagerW(None, None, SC_MANAGER_ALL_ACCESS)
        if not manager:
            raise _fail("OpenSCManager (the agent must run as an administrator or SYSTEM)")
        try:
            handle = self.api.OpenServiceW(manager, self.name, SERVICE_ALL_ACCESS)
            if not handle:
                if ctypes.get_last_error() != ERROR_SERVICE_DOES_NOT_EXIST:  # type: ignore[attr-defined]
                    raise _fail("OpenService %s" % self.name)
                if create is None:
                    return None
                handle = create(manager)
                if not handle:
                    raise _fail("CreateService %s" % self.name)
            try:
                return work(handle)
            finally:
                self.api.CloseServiceHandle(handle)
        finally:
            self.api.CloseServiceHandle(manager)

    def write(self, binary: str, display: str, description: str, user: Optional[str]) -> List[str]:
        """Create the service, or change the one in place; the settings this SCM refused."""
        made: List[bool] = []
        account = user or None  # None: LocalSystem. A password is never given: None keeps one an admin set

        def create(manager: Any) -> Any:
            made.append(True)
            return self.api.CreateServiceW(manager, self.name, display, SERVICE_ALL_ACCESS,
                                           SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                           SERVICE_ERROR_NORMAL, binary, None, None, None, account, None)

        def configure(handle: Any) -> List[str]:
            if not made and not self.api.ChangeServiceConfigW(
                    handle, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                    binary, None, None, None, account or "LocalSystem", None, display):
                raise _fail("ChangeServiceConfig %s" % self.name)
            return self._config2(handle, description)

        return self._call(configure, create)  # type: ignore[no-any-return]

    def _config2(self, handle: Any, description: str) -> List[str]:
        text = ctypes.c_wchar_p(description)
        delayed = wintypes.BOOL(True)
        actions = (SC_ACTION * len(RECOVERY))(*[SC_ACTION(kind, delay) for kind, delay in RECOVERY])
        failure = SERVICE_FAILURE_ACTIONSW(RESET_SECONDS, None, None, len(RECOVERY), actions)
        on_exit_code = wintypes.BOOL(True)  # a non-zero exit counts as a failure too, not only a crash
        refused = []
        for level, value, what in ((CONFIG_DESCRIPTION, text, "description"),
                                   (CONFIG_DELAYED_AUTO_START, delayed, "delayed auto-start"),
                                   (CONFIG_FAILURE_ACTIONS, failure, "recovery actions"),
                                   (CONFIG_FAILURE_FLAG, on_exit_code, "recovery on a non-zero exit")):
            if not self.api.ChangeServiceConfig2W(handle, level, ctypes.byref(value)):
                if ctypes.get_last_error() != ERROR_INVALID_LEVEL:  # type: ignore[attr-defined]
                    raise _fail("ChangeServiceConfig2 %s (%s)" % (self.name, what))
                refused.append(what)
        return refused

    def config(self) -> Optional[Dict[str, Any]]:
        """The definition in place (binary, account, display name, description, recovery), or None."""
        def read(handle: Any) -> Dict[str, Any]:
            raw = self._query(lambda buf, size, need: self.api.QueryServiceConfigW(
                handle, buf, size, need), "QueryServiceConfig")
            conf = ctypes.cast(raw, ctypes.POINTER(QUERY_SERVICE_CONFIGW)).contents
            found = {"binary": conf.lpBinaryPathName, "user": conf.lpServiceStartName,
                     "display": conf.lpDisplayName, "start": conf.dwStartType}
            raw = self._query(lambda buf, size, need: self.api.QueryServiceConfig2W(
                handle, CONFIG_DESCRIPTION, buf, size, need), "QueryServiceConfig2")
            found["description"] = ctypes.cast(raw, ctypes.POINTER(wintypes.LPWSTR)).contents.value
            found["recovery"] = self._recovery(handle)
            return found
        config: Optional[Dict[str, Any]] = self._call(read)
        return config

    def _recovery(self, handle: Any) -> Optional[Dict[str, Any]]:
        """The failure actions as the SCM holds them (None when it does not answer)."""
        try:
            raw = self._query(lambda buf, size, need: self.api.QueryServiceConfig2W(
                handle, CONFIG_FAILURE_ACTIONS, buf, size, need), "QueryServiceConfig2")
        except StepError:
            return None
        got = ctypes.cast(raw, ctypes.POINTER(SERVICE_FAILURE_ACTIONSW)).contents
        return {"reset": got.dwResetPeriod,
                "actions": [[got.lpsaActions[i].Type, got.lpsaActions[i].Delay] for i in range(got.cActions)]}

    @staticmethod
    def _query(call: Callable[[Any, int, Any], int], what: str) -> Any:
        """A variable-size answer: asked once for its size, then into a buffer that big."""
        need = wintypes.DWORD(0)
        call(None, 0, ctypes.byref(need))
        buffer = ctypes.create_string_buffer(max(need.value, 64))
        if not call(buffer, len(buffer), ctypes.byref(need)):
            raise _fail(what)
        return buffer

    def status(self) -> Status:
        def read(handle: Any) -> Status:
            got = SERVICE_STATUS_PROCESS()
            need = wintypes.DWORD()
            if not self.api.QueryServiceStatusEx(handle, 0, ctypes.byref(got), ctypes.sizeof(got),
                                                 ctypes.byref(need)):
                raise _fail("QueryServiceStatusEx %s" % self.name)
            return Status(STATES.get(got.dwCurrentState, "unknown"), got.dwProcessId,
                          got.dwWin32ExitCode)
        return self._call(read) or Status("missing", 0, 0)

    def start(self) -> bool:
        """False when it was running already."""
        def run(handle: Any) -> bool:
            if self.api.StartServiceW(handle, 0, None):
                return True
            if ctypes.get_last_error() == ERROR_SERVICE_ALREADY_RUNNING:  # type: ignore[attr-defined]
                return False
            raise _fail("StartService %s" % self.name)
        return bool(self._call(run))

    def control_stop(self) -> bool:
        """Send STOP; False when it was not running (or not yet accepting controls)."""
        def send(handle: Any) -> bool:
            got = SERVICE_STATUS()
            if self.api.ControlService(handle, CONTROL_STOP, ctypes.byref(got)):
                return True
            if ctypes.get_last_error() in (ERROR_SERVICE_NOT_ACTIVE,  # type: ignore[attr-defined]
                                           ERROR_SERVICE_CANNOT_ACCEPT_CTRL):
                return False
            raise _fail("ControlService STOP %s" % self.name)
        return bool(self._call(send))

    def delete(self) -> bool:
        def remove(handle: Any) -> bool:
            if self.api.DeleteService(handle):
                return True
            if ctypes.get_last_error() == ERROR_SERVICE_MARKED_FOR_DELETE:  # type: ignore[attr-defined]
                return True
            raise _fail("DeleteService %s" % self.name)
        return bool(self._call(remove))


class WindowsService:
    """One app's service: install, start, stop (to the process's exit), state, rollback, removal."""

    def __init__(self, name: str, keep_dir: str, alive: Callable[[int], bool],
                 kill_tree: Callable[[int], Any], scm: Optional[Scm] = None) -> None:
        self.name = name
        self.keep_dir = keep_dir
        self.alive = alive
        self.kill_tree = kill_tree
        self.scm = scm or Scm(name)
        self.kept = os.path.join(keep_dir, name + ".previous.json")

    @classmethod
    def of(cls, plat: Any, app_dir: str, keep_dir: str) -> "WindowsService":
        """The service of the app in ``app_dir``, its process tree ended by ``plat``."""
        return cls(service_name(app_dir), keep_dir, plat.alive, lambda pid: plat.terminate(pid, True))

    def current(self) -> Optional[str]:
        """The definition in place as JSON text, None when there is no such service."""
        conf = self.scm.config()
        return None if conf is None else json.dumps(conf, sort_keys=True)

    def install(self, binary: str, display: str, description: str, user: Optional[str]) -> str:
        check_account(user)
        before = self.current()
        self.keep(before)
        refused = self.scm.write(binary, display, description, user)
        return "service %s %s%s" % (self.name, "updated" if before else "installed", "".join(
            "; WARNING: this Service Control Manager refused the %s setting" % what for what in refused))

    def keep(self, before: Optional[str]) -> None:
        """What ``restore_previous`` writes back: ``before``, or no service at all."""
        os.makedirs(self.keep_dir, exist_ok=True)
        keep_copy(self.kept, None if before is None else before.encode("utf-8"))

    def start(self) -> str:
        started = self.scm.start()
        return ("started service %s" if started else "service %s was running") % self.name

    def state(self) -> Status:
        return self.scm.status()

    def stop(self, timeout: float) -> str:
        """STOP through the SCM (the service asks the app to stop, waits ``timeout``, then ends
        it), then wait for the service's PROCESS to exit; ended by us when it does not."""
        before = self.scm.status()
        if before.state in ("missing", "stopped"):
            return "service %s was not running" % self.name
        self.scm.control_stop()
        deadline = time.monotonic() + timeout + PROCESS_EXIT_GRACE
        while time.monotonic() < deadline:
            now = self.scm.status()
            if now.state == "stopped" and not (before.pid and self.alive(before.pid)):
                return "stopped service %s (pid %d exited)" % (self.name, before.pid)
            time.sleep(0.25)
        if before.pid and self.alive(before.pid):
            self.kill_tree(before.pid)
            return "service %s did not stop within %gs: its process %d ended" % (
                self.name, timeout + PROCESS_EXIT_GRACE, before.pid)
        return "stopped service %s (the SCM still says %s)" % (self.name, self.scm.status().state)

    def restore_previous(self) -> str:
        """Rollback: the definition in place before ``install``, or no service at all."""
        if not os.path.isfile(self.kept):
            return self.remove()
        with open(self.kept, encoding="utf-8") as handle:
            conf = json.load(handle)
        self.scm.write(conf["binary"], conf["display"], conf.get("description") or "",
                       None if (conf.get("user") or "LocalSystem") == "LocalSystem" else conf["user"])
        return "service %s restored" % self.name

    def remove(self, timeout: float = 15.0) -> str:
        if self.scm.status().state == "missing":
            return "no service %s" % self.name
        self.stop(timeout)
        self.scm.delete()
        return "service %s removed" % self.name


class EarlierTask:
    """The Scheduled Task an earlier deploy ran the app as: ended at the stop, removed once the
    service answered the health check (a rollback before that starts it again)."""

    def __init__(self, task: "ScheduledTask") -> None:
        self.task = task
        self.there: Optional[bool] = None

    def present(self) -> bool:
        if self.there is None:
            self.there = self.task.current() is not None
        return self.there

    def stop(self) -> str:
        return "%s (the app moves to a Windows service); " % self.task.stop() if self.present() else ""

    def remove(self) -> str:
        if not self.present():
            return ""
        self.there = False
        return "; %s: the app runs as a Windows service now" % self.task.remove()
