"""The Windows service under Wine's SCM, continued: a crash of the app restarted by the service with
its secrets read again, the Event Log lines, status's start time, and a rollback after a failed
health check to the previous definition and version (the whole agent).

Wine's advapi32 has no event log: RegisterEventSourceW and ReportEventW are stubs that succeed
(the handle is 0xCAFE4242) and print each line on the debug channel ``eventlog`` (information as
trace, warning as warn, error as err) to the process's stderr. The SCM here is started with that
channel on and its stderr on a pipe; the service's process inherits both, so the lines the agent
reports are read there. What Windows keeps in the Application log cannot be seen under Wine.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import queue
import re
import signal
from typing import Iterator

import pytest

from ssm_action import payload
from ssm_action.agent import service, winservice
from ssm_action.contract import ExitCode
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.windows.host import NEWEST, OLDEST, WindowsHost
from tests.windows.test_windows_deploy import step_line
from tests.windows.test_windows_launcher import fingerprints
from tests.windows.test_windows_service import APP_DIR, KEEPER, OPS, STOP_TIMEOUT, ServiceBox, one_scm
from tests.windows.winapp import APP_DIR as WINAPP_DIR
from tests.windows.winapp import WINDOWS, WinApp, wine_processes
from tests.windows.wine import Wine

pytestmark = WINDOWS
UNHEALTHY_FOR = 15  # the health check's wait: time to read v2's definition while it is in place
# The event lines; the source name (RegisterEventSourceW's) and each line's type and event ID (ReportEventW's
# arguments) on the advapi channel's fixme, printed by the same thread just before the line.
TRACE = "-all,+eventlog,fixme+advapi"
EVENT = re.compile(r"^([0-9a-f]+):(trace|warn|err):eventlog:ReportEventW L\"(.*)\"")
CALL = re.compile(r"^([0-9a-f]+):fixme:advapi:ReportEventW \([0-9A-F]+,0x([0-9a-f]+),0x[0-9a-f]+,0x([0-9a-f]+),")
SOURCE = re.compile(r"RegisterEventSourceW \(\(null\),L\"([^\"]+)\"\)")


class EventLines:
    """What the SCM's processes printed on the eventlog channel: (level, text, event type, event ID)."""

    def __init__(self, lines: "queue.Queue[tuple[str, str | None]]") -> None:
        self.lines = lines
        self.seen: list[tuple[str, str, int, int]] = []
        self.sources: set[str] = set()
        self.calls: dict[str, tuple[int, int]] = {}  # thread -> the type and ID of its last ReportEventW

    def read(self) -> list[tuple[str, str, int, int]]:
        with contextlib.suppress(queue.Empty):
            while True:
                line = self.lines.get_nowait()[1] or ""
                call, found, source = CALL.search(line), EVENT.search(line), SOURCE.search(line)
                if call:
                    self.calls[call.group(1)] = (int(call.group(2), 16), int(call.group(3), 16))
                if found:
                    self.seen.append((found.group(2), found.group(3).replace("\\\\", "\\"),
                                      *self.calls.pop(found.group(1), (0, 0))))
                if source:
                    self.sources.add(source.group(1))
        return self.seen

    def having(self, text: str) -> list[tuple[str, str, int, int]]:
        return [event for event in self.read() if text in event[1]]


@pytest.fixture(params=[NEWEST, OLDEST])
def traced(request: pytest.FixtureRequest, windows_host: WindowsHost,
           world: World) -> Iterator[tuple[ServiceBox, EventLines]]:
    """A ServiceBox whose one services.exe runs with the eventlog channel on, its stderr read."""
    made = ServiceBox(windows_host, world, request.param)
    wine = made.wine
    end_scm(wine)
    with wine.popen(["sc", "query", "ssm-app-none"], env=wine.env(WINEDEBUG=TRACE)) as (sc, lines):
        sc.wait(timeout=120)
        assert len(wine_processes(wine.prefix, "services.exe")) == 1
        with wine.popen([made.python, "-c", KEEPER]):  # Wine's SCM runs as long as a process holds it
            made.clean()
            try:
                yield made, EventLines(lines)
            finally:
                made.clean()
    end_scm(wine)  # the next test's SCM client starts one without the debug channels


def end_scm(wine: Wine) -> None:
    for pid in wine_processes(wine.prefix, "services.exe"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def utc(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def test_a_crashed_app_is_started_again_by_the_service_and_the_event_log_and_status_say_so(
        traced: tuple[ServiceBox, EventLines], world: World):
    box, events = traced
    world.client()  # IMDS serves app-role's credentials
    binary = box.prepare()
    box.app("v1")
    box.install(binary, "v1")
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    box.op("start")
    first, _, seen = box.wait(box.answer, 90, "the app answers")
    assert seen == fingerprints(DB_URL, API_KEY)

    # Status: the SCM's state, the service process's pid and its start time (GetProcessTimes).
    status = box.op("status")
    note = box.op("note", APP_DIR)
    found = re.fullmatch(r"; service %s running \(pid %d, since (\S+)\)" % (box.name, status["pid"]), note)
    assert found, note
    assert before - datetime.timedelta(seconds=2) <= utc(found.group(1)) <= datetime.datetime.now(
        datetime.timezone.utc), note

    started = box.wait(lambda: events.having("starting "), 30, "the start's event line")
    assert started[0][1] == "starting %s\\.venv\\Scripts\\pythonw.exe %s\\app.py" % (APP_DIR, APP_DIR)
    assert started[0][0] == "trace" and started[0][2:] == (4, 1000)  # information, "starting"
    assert box.name in events.sources  # the event source is the service's name

    # A crash (TerminateProcess, exit code 1): the service starts the app again, its secrets read again.
    puts = sum(1 for method, _, _ in world.imds.requests if method == "PUT")
    assert box.op("kill", first) is True
    _, _, seen = box.wait(lambda: (lambda got: got if got and got[0] != first else None)(box.answer()),
                          90, "a new app process answers")
    assert seen == fingerprints(DB_URL, API_KEY)
    assert sum(1 for method, _, _ in world.imds.requests if method == "PUT") > puts
    assert box.op("status")["pid"] == status["pid"]  # the same service process supervised both
    crashed = box.wait(lambda: events.having("the app exited with code 1"), 30, "the crash's event line")
    assert crashed[0][0] == "warn" and crashed[0][2:] == (2, 1002)  # warning, "exited"
    assert len(events.having("starting ")) == 2  # and started again

    # A deaf version: the forced end (a warning), then the service's stop (information).
    box.op("stop", str(STOP_TIMEOUT))
    box.app("v2", deaf=True)
    box.op("start")
    box.wait(lambda: box.answering("v2"), 90, "v2 answers")
    assert box.op("stop", str(STOP_TIMEOUT)).startswith("stopped service")
    ended = box.wait(lambda: events.having("the app did not stop within %gs" % STOP_TIMEOUT), 30, "the end's line")
    assert ended[0][0] == "warn" and ended[0][2:] == (2, 1003)
    stopped = "service %s stopped" % box.name
    stops = box.wait(lambda: len(events.having(stopped)) == 2 and events.having(stopped), 30, "the stops' lines")
    assert [(level, kind, event) for level, _, kind, event in stops] == [("trace", 4, 1001)] * 2  # one per stop
    assert not any(DB_URL in event[1] or API_KEY in event[1] for event in events.read())
    assert box.op("note", APP_DIR) == "; service %s stopped" % box.name


@pytest.mark.parametrize("version", [NEWEST, OLDEST])
def test_a_failed_health_check_rolls_the_service_back_to_its_previous_definition_and_version(
        app: WinApp, version: str):
    """The whole agent: v2 (another command line, its own display name) answers 503, and the rollback
    writes v1's definition back through the SCM, v1's launch spec with it, and starts v1 healthy."""
    name = winservice.service_name(WINAPP_DIR)
    state = WINAPP_DIR + ".deploy"
    python = app.host.python(version)
    agent = app.host.agent_command(python, payload.extras_for({"app_host": "service", "platform": "windows"}))[1]
    ops_path = app.wine.linux(r"C:\ssm\winsvcops.py")  # C:\ssm: where the agent was put
    ops_path.write_text(OPS)

    def op(*args: str) -> object:
        ran = app.wine.run([python, app.wine.windows(ops_path), agent, args[0], name, state + r"\service",
                            *args[1:]], timeout=180)
        assert ran.code == 0, ran.out + ran.err
        return json.loads(ran.out.strip().splitlines()[-1])

    def spec() -> list[str]:
        return json.loads(app.path(state + "\\" + service.SERVICE_SPEC).read_text())["argv"]

    one_scm(app.wine)
    with app.wine.popen([app.python, "-c", KEEPER]):
        try:
            v1 = app.commit("v1")
            first = app.deploy(v1, python, app_host="service")
            assert first.code == ExitCode.OK, first.out + first.err
            assert first.result["python"].startswith(version[:4])  # 3.13.2, 3.8.10
            v1_definition, v1_argv = op("config"), spec()
            assert v1_definition["display"] == "app %s (ssm-deploy-action)" % v1[:12]

            bad = app.commit("unhealthy", status=503)
            during: dict[str, object] = {}

            def read_v2(line: str, proc: object) -> None:  # after the start step, while verify waits
                if line.split()[:1] == ["start"]:
                    during.update(op("config"), argv=spec())

            run = app.deploy(bad, python, on_line=read_v2, app_host="service",
                             app_command=["app.py", "--unhealthy"], health_timeout=UNHEALTHY_FOR)
            assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
            assert "answered 503" in run.result["error"]
            assert during["display"] == "app %s (ssm-deploy-action)" % bad[:12] and bad in str(during["description"])
            assert during["argv"] == v1_argv + ["--unhealthy"]
            assert "service %s updated" % name in step_line(run.out, "start")
            assert "service %s restored; started service %s" % (name, name) in step_line(run.out, "rollback-start")
            assert op("config") == v1_definition  # binary, display name, description, account, start type
            assert spec() == v1_argv and "--unhealthy" not in spec()
            assert app.get() == (200, "v1 tinydep-1.0") and app.head() == v1
            now = op("status")
            assert now["state"] == "running" and now["pid"], now

            # The status action: the app healthy, the service's state, pid and start time.
            status = app.deploy(v1, python, app_host="service", action="status")
            assert status.code == ExitCode.OK and status.result["health"] == "healthy", status.out
            assert status.result["running_sha"] == v1 and status.result["pid"], status.out  # the app's record
            line = step_line(status.out, "status:")
            assert re.search(r"; service %s running \(pid %d, since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$" % (
                name, now["pid"]), line), line
        finally:
            app.dirty = True
            app.wine.run([python, app.wine.windows(ops_path), agent, "remove", name, state + r"\service"],
                         timeout=180)
