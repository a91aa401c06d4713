"""The Windows service host's parts that need no Windows: its name, accounts, the settings it asks the
SCM for (through a stand-in for advapi32), and the move of an app off the earlier Scheduled Task
(through a stand-in for the SCM), the service's Event Log lines (through a stand-in for the event log calls)
and status's start time. The SCM itself runs under Wine: tests/windows/test_windows_service*.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ssm_action.agent import service as service_module
from ssm_action.agent import status, winservice, winservice_run
from ssm_action.agent.errors import StepError
from ssm_action.contract import AgentParams
from tests.agent.test_service_host import windows_service


def test_the_service_name_is_the_folder_and_a_hash_of_its_whole_path():
    name = winservice.service_name("C:\\apps\\notes")
    assert name.startswith("ssm-app-notes-") and len(name) == len("ssm-app-notes-") + 8
    assert name == winservice.service_name("c:\\APPS\\notes\\")  # one folder, however it is written
    assert name != winservice.service_name("D:\\notes")  # same folder name, another app
    assert winservice.service_name("C:\\srv\\my app!").startswith("ssm-app-my_app_-")


@pytest.mark.parametrize("user", ["", "NT SERVICE\\ssm-app-notes", "CORP\\svc-notes", "CORP\\gmsa-notes$"])
def test_service_accounts_need_no_password(user: str):
    winservice.check_account(user or None)


def test_a_name_that_is_no_account_is_refused():
    with pytest.raises(StepError, match="not a Windows service account"):
        winservice.check_account("a\\b\\c")


class Advapi32StandIn:
    """Stands in for advapi32: every call succeeds; what ChangeServiceConfig(2)W got is kept."""

    def __init__(self) -> None:
        self.created: list[Any] = []
        self.config2: dict[int, Any] = {}

    def OpenSCManagerW(self, *args: Any) -> int:
        return 1

    def OpenServiceW(self, *args: Any) -> int:
        return 2

    def ChangeServiceConfigW(self, *args: Any) -> int:
        self.created.append(args)
        return 1

    def ChangeServiceConfig2W(self, handle: int, level: int, value: Any) -> int:
        self.config2[level] = value._obj  # byref's object
        return 1

    def CloseServiceHandle(self, handle: int) -> int:
        return 1


def test_the_service_restarts_after_5s_30s_then_every_minute_reset_daily_and_starts_delayed():
    api = Advapi32StandIn()
    assert winservice.Scm("ssm-app-notes-1", api).write("python.exe -I a.pyz", "notes", "desc", None) == []
    binary, account, display = api.created[0][4], api.created[0][8], api.created[0][10]
    assert (binary, account, display) == ("python.exe -I a.pyz", "LocalSystem", "notes")
    failure = api.config2[winservice.CONFIG_FAILURE_ACTIONS]
    assert failure.dwResetPeriod == 86400 and failure.lpCommand is None and failure.lpRebootMsg is None
    assert [(failure.lpsaActions[i].Type, failure.lpsaActions[i].Delay) for i in range(failure.cActions)] == [
        (1, 5000), (1, 30000), (1, 60000)]  # SC_ACTION_RESTART; the last one repeats
    assert api.config2[winservice.CONFIG_DELAYED_AUTO_START].value == 1
    assert api.config2[winservice.CONFIG_FAILURE_FLAG].value == 1  # a non-zero exit is a failure too
    assert api.config2[winservice.CONFIG_DESCRIPTION].value == "desc"


class ScmStandIn:
    """Stands in for WindowsService (the SCM): one service, its definition text and state."""

    def __init__(self) -> None:
        self.name = "ssm-app-notes-0123abcd"
        self.definition: str | None = None
        self.running = False

    def current(self) -> str | None:
        return self.definition

    def install(self, binary: str, display: str, description: str, user: str | None) -> str:
        self.definition = binary
        return "service %s installed" % self.name

    def start(self) -> str:
        self.running = True
        return "started service %s" % self.name

    def stop(self, timeout: float) -> str:
        self.running = False
        return "service %s was not running" % self.name

    def restore_previous(self) -> str:
        self.definition = None
        return "no service %s" % self.name

    def state(self) -> winservice.Status:
        return winservice.Status("running" if self.running else "stopped", 4242, 0)


def test_an_app_run_by_the_earlier_task_moves_to_the_service_once_and_a_rollback_before_that_keeps_the_task(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(service_module, "shipped_agent", lambda: __file__)
    old, schtasks = windows_service(tmp_path)  # app_host task: the earlier deploys' host
    argv = ["C:\\apps\\notes\\.venv\\Scripts\\waitress-serve.exe", "app:app"]
    old.install(argv, {}, {}, "c" * 40)
    task_name = old.host.name
    scm = ScmStandIn()
    monkeypatch.setattr(winservice.WindowsService, "of", classmethod(lambda cls, *args: scm))
    host = service_module.Service(old.plat, _shell(schtasks), old.records, old.where, _params(old))
    assert host.stop() == ("ended task %s (the app moves to a Windows service); service %s was not running"
                           % (task_name, scm.name))
    assert host.install(argv, {}, {}, "d" * 40) == "service %s installed" % scm.name
    assert scm.definition and " --service %s " % scm.name in scm.definition
    assert schtasks.registered is not None  # kept until the service serves

    # A rollback before the health check passed: no service, the task starts the old version again.
    assert host.restore_previous() == "no service %s" % scm.name
    assert host.start() == "started task %s" % task_name and not scm.running
    assert host.settled() == ""

    # The next deploy: healthy, so the task goes, said once.
    again = service_module.Service(old.plat, _shell(schtasks), old.records, old.where, _params(old))
    again.stop()
    again.install(argv, {}, {}, "e" * 40)
    assert again.settled() == "; task %s removed: the app runs as a Windows service now" % task_name
    assert schtasks.registered is None and again.settled() == ""


def _shell(standin: Any) -> Any:
    from tests.agent.test_service_host import host_shell
    return host_shell(standin)


def _params(host: service_module.Service) -> AgentParams:
    return AgentParams(deploy_id="7-1", app_dir=host.where.app_dir, sha="c" * 40, platform="windows",
                       app_user=host.user or "", stop_timeout=host.stop_timeout, app_host="service")


def test_a_service_that_has_not_started_the_app_yet_is_starting_not_dead(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch):
    """StartServiceW returns before the service has started the app and written its pid: the verify
    step saw "the app exited" 0.03 s after the start (seen under Wine)."""
    monkeypatch.setattr(service_module, "shipped_agent", lambda: __file__)
    scm = ScmStandIn()
    monkeypatch.setattr(winservice.WindowsService, "of", classmethod(lambda cls, *args: scm))
    old, schtasks = windows_service(tmp_path)
    host = service_module.Service(old.plat, _shell(schtasks), old.records, old.where, _params(old))
    monkeypatch.setattr(host.plat, "alive", lambda pid: pid == 777)
    host.start()
    assert host.alive()  # running, no app pid written yet
    host.records.write(service_module.PID, {"pid": 777})
    assert host.alive()
    host.records.write(service_module.PID, {"pid": 778})  # restarted since: a crash, not alive
    assert not host.alive()
    scm.running = False
    host.records.remove(service_module.PID)
    assert not host.alive()


class EventLogStandIn:
    """Stands in for advapi32's event log calls (the service's own calls are declared, never made here):
    what ReportEventW got is kept; ``source`` 0 is a refused RegisterEventSourceW."""

    def __init__(self, source: int = 0xCAFE) -> None:
        self.reported: list[tuple[int, int, int, list[str]]] = []
        self.closed: list[int] = []
        for name in ("RegisterServiceCtrlHandlerExW", "SetServiceStatus"):
            setattr(self, name, _declarable(lambda *args: 0))
        self.RegisterEventSourceW = _declarable(lambda server, name: source)
        self.ReportEventW = _declarable(self._report)
        self.DeregisterEventSource = _declarable(lambda handle: self.closed.append(handle.value))

    def _report(self, handle: Any, kind: int, category: int, event: int, sid: Any, count: int, size: int,
                strings: Any, data: Any) -> int:
        self.reported.append((handle.value, kind, event, [strings[i] for i in range(count)]))
        return 1


def _declarable(function: Any) -> Any:
    """A function that takes ctypes' restype and argtypes, as a WinDLL's do."""
    def call(*args: Any) -> Any:
        return function(*args)
    return call


@pytest.mark.parametrize("event, kind", [(1000, 4), (1001, 4), (1002, 2), (1003, 2), (1004, 1)])
def test_the_service_writes_its_lines_to_the_application_event_log_and_the_app_log(
        tmp_path: Path, event: int, kind: int):
    """Information: starting, stopped; warning: the app exited, its forced end; error: it cannot start."""
    api = EventLogStandIn()
    svc = winservice_run.ServiceProcess("ssm-app-notes-0123abcd", str(tmp_path / "launch.json"), api)
    with open(tmp_path / "app.log", "ab") as log:
        svc.note(log, "the app exited with code 1", event)
    assert api.reported == [(0xCAFE, kind, event, ["the app exited with code 1"])]
    assert api.closed == [0xCAFE]  # the source is let go after each line
    assert "launcher: the app exited with code 1" in (tmp_path / "app.log").read_text()


def test_an_event_log_that_refuses_the_source_never_stops_the_service(tmp_path: Path):
    api = EventLogStandIn(source=0)
    svc = winservice_run.ServiceProcess("ssm-app-notes-0123abcd", str(tmp_path / "launch.json"), api)
    with open(tmp_path / "app.log", "ab") as log:
        svc.note(log, "launch spec x has no command", 1004)
    assert api.reported == [] and api.closed == []
    assert "launch spec x has no command" in (tmp_path / "app.log").read_text()


class StatusScmStandIn:
    """Stands in for winservice.Scm in the status action: a running service, its process 4242."""

    def __init__(self, name: str) -> None:
        self.name = name

    def status(self) -> winservice.Status:
        return winservice.Status("running", 4242, 0)


def test_status_says_when_the_service_process_started(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(winservice, "Scm", StatusScmStandIn)
    plat = SimpleNamespace(name="windows", started=lambda pid: 134096304459999999)  # a FILETIME: 100 ns since 1601
    name = winservice.service_name("C:\\apps\\notes")
    params = AgentParams(deploy_id="7-1", app_dir="C:\\apps\\notes", sha="c" * 40, platform="windows",
                         app_host="service")
    assert status.service_note(params, plat) == (
        "; service %s running (pid 4242, since 2025-12-08T01:20:45Z)" % name)
    plat.started = lambda pid: None  # its start time cannot be read
    assert status.service_note(params, plat) == "; service %s running (pid 4242)" % name
