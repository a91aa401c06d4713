"""The Windows service host through Wine's Service Control Manager, on Windows CPython 3.13 and 3.8.

The agent's own ``winservice.WindowsService`` (advapi32: CreateServiceW, ChangeServiceConfig(2)W,
StartServiceW, ControlService, QueryServiceStatusEx, DeleteService) registers the service whose
binary is ``python.exe -I agent.pyz --service <name> <spec>``; Wine's services.exe starts it and
``winservice_run`` answers the SCM and supervises the app, its secrets read from moto through the
IMDSv2 stand-in (the spec carries the endpoints; the service's environment has no AWS variable).

Where Wine's SCM differs from Windows (platform-facts §10), the test checks what Wine can show:
the recovery actions are checked as configuration only (Wine never restarts a crashed service),
and the service's process exit is observed by its pid (``sc queryex`` prints nothing under Wine).
"""

from __future__ import annotations

import contextlib
import json
import ntpath
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import pytest

from ssm_action import payload
from ssm_action.contract import ExitCode
from ssm_action.agent import launcher, service, winservice
from tests.agent.agent_fixtures import free_port, http_get
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.windows.host import NEWEST, OLDEST, WindowsHost
from tests.windows.test_windows_launcher import fingerprints, wait_for
from tests.windows.wine import Wine
from tests.windows.test_windows_deploy import step_line
from tests.windows.winapp import APP_DIR as WINAPP_DIR
from tests.windows.winapp import STOP_MARKER, WINDOWS, WinApp, wine_processes

pytestmark = WINDOWS
T = TypeVar("T")
APP_DIR = r"C:\srv\winsvc"
STATE = APP_DIR + ".deploy"
MARKER = "\\srv\\winsvc"
STOP_FILE = STATE + r"\stop-request"
STOP_TIMEOUT = 3
SECRETS = {"DATABASE_URL": "ssm:/app/db-url", "NOTES_API_KEY": "secretsmanager:app/keys#api_key"}
# Answers with its pid, its version and a fingerprint of each secret; records a clean exit
# (atexit) and exits when DEPLOY_STOP_FILE appears, unless DEAF (then only an end ends it).
APP = '''\
import _thread, atexit, hashlib, os, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer

VERSION, DEAF = %r, %r
SEEN = " ".join(hashlib.sha256(os.environ[k].encode()).hexdigest()[:12]
                for k in ("DATABASE_URL", "NOTES_API_KEY"))
atexit.register(lambda: open(r"%s\\exited-" + VERSION, "w").close())

def stop_when_asked(path=os.environ["DEPLOY_STOP_FILE"]):
    while not os.path.exists(path):
        time.sleep(0.1)
    if not DEAF:
        _thread.interrupt_main()

threading.Thread(target=stop_when_asked, daemon=True).start()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%%d %%s %%s" %% (os.getpid(), VERSION, SEEN)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

try:
    HTTPServer(("127.0.0.1", int(os.environ["APP_PORT"])), Handler).serve_forever()
except KeyboardInterrupt:
    pass
'''
# The agent's WindowsService, run on Windows Python from the agent's zipapp: prints JSON.
OPS = '''\
import json, sys
sys.path.insert(0, sys.argv[1])
from ssm_action.agent import winservice
from ssm_action.agent.windows import WindowsPlatform

plat = WindowsPlatform()
svc = winservice.WindowsService(sys.argv[3], sys.argv[4], plat.alive,
                                lambda pid: plat.terminate(pid, True))
what, args = sys.argv[2], sys.argv[5:]
if what == "install":
    out = svc.install(args[0], args[1], args[2], args[3] or None)
elif what == "stop":
    out = svc.stop(float(args[0]))
elif what == "status":
    out = svc.state()._asdict()
elif what == "config":
    out = svc.scm.config()
elif what == "note":  # what the status action adds to its line
    from ssm_action.agent.status import service_note
    from ssm_action.contract.params import AgentParams
    out = service_note(AgentParams(deploy_id="1-1", app_dir=args[0], sha="0" * 40, platform="windows",
                                   app_host="service"), plat)
elif what == "kill":  # TerminateProcess of one process, exit code 1: a crash
    from ssm_action.agent import winproc
    out = winproc.terminate(int(args[0]))
else:
    out = getattr(svc, {"start": "start", "remove": "remove", "restore": "restore_previous"}[what])()
print(json.dumps(out))
'''


KEEPER = "import ctypes, time; ctypes.windll.advapi32.OpenSCManagerW(None, None, 1); time.sleep(3600)"


class ServiceBox:
    """The app folder, its state folder (agent copy, spec) and the service's name, in the prefix."""

    def __init__(self, host: WindowsHost, world: World, version: str) -> None:
        self.wine = host.wine
        self.python = host.python(version)
        self.port = free_port()
        extras = payload.extras_for({"app_host": "service", "platform": "windows",
                                     "app_secrets": SECRETS})
        self.agent = host.agent_command(self.python, extras)[1]
        self.ops = self.wine.linux(r"C:\ssm\winsvcops.py")
        self.ops.write_text(OPS)
        self.name = winservice.service_name(APP_DIR)
        self.where = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": world.imds.url,
                      "AWS_ENDPOINT_URL": world.moto, "AWS_REGION": "us-east-1"}

    def linux(self, windows_path: str) -> Path:
        return self.wine.linux(windows_path)

    def op(self, what: str, *args: str) -> Any:
        ran = self.wine.run([self.python, self.wine.windows(self.ops), self.agent, what, self.name,
                             STATE + r"\service", *args], timeout=180)
        assert ran.code == 0 and ran.out.strip(), "%s: %r %r\n%s" % (what, ran.out, ran.err, self.log())
        return json.loads(ran.out.strip().splitlines()[-1])

    def prepare(self) -> str:
        """The app folder, its venv, the agent copy and spec as ``Service.install`` leaves them;
        the service's binary."""
        venv = ntpath.join(APP_DIR, ".venv")
        self.linux(APP_DIR).mkdir(parents=True)
        made = self.wine.run([self.python, "-m", "venv", "--without-pip", venv], timeout=300)
        assert made.code == 0, made.out + made.err
        self.linux(STATE + r"\logs").mkdir(parents=True)
        agent = ntpath.join(STATE, "agent.pyz")
        shutil.copyfile(self.linux(self.agent), self.linux(agent))
        spec_path = ntpath.join(STATE, service.SERVICE_SPEC)
        spec = launcher.make_spec(
            [ntpath.join(venv, "Scripts", "pythonw.exe"), ntpath.join(APP_DIR, "app.py")], APP_DIR,
            {"APP_PORT": str(self.port), "PYTHONUNBUFFERED": "1", "DEPLOY_STOP_FILE": STOP_FILE},
            SECRETS, ntpath.join(STATE, "logs", "app.log"), ntpath.join(STATE, service.PID),
            settings=self.where)
        spec["stop_timeout"] = STOP_TIMEOUT
        launcher.write_spec(str(self.linux(spec_path)), spec)
        return subprocess.list2cmdline([self.python, "-I", agent, "--service", self.name, spec_path])

    def app(self, version: str, deaf: bool = False) -> None:
        self.linux(APP_DIR + r"\app.py").write_text(APP % (version, deaf, "C:\\srv"))

    def install(self, binary: str, version: str) -> str:
        return self.op("install", binary, "%s %s (ssm-deploy-action)" % ("winsvc", version),
                       "winsvc at commit %s, managed by ssm-deploy-action" % version, "")

    def answer(self) -> list[str] | None:
        got = http_get("http://127.0.0.1:%d/" % self.port, timeout=2)
        return got[1].split(" ", 2) if got and got[0] == 200 else None

    def answering(self, version: str) -> list[str] | None:
        got = self.answer()
        return got if got and got[1] == version else None

    def exited(self, version: str) -> bool:
        return self.linux("C:\\srv\\exited-" + version).exists()

    def wait(self, check: Callable[[], T | None], seconds: float, what: str) -> T:
        """``wait_for``, its failure saying the service's state and what it logged by then."""
        try:
            return wait_for(check, seconds, what)
        except AssertionError as exc:
            raise AssertionError("%s\nservice: %s\n%s" % (exc, self.op("status"), self.log())) from None

    def log(self) -> str:
        found = [self.linux(STATE + r"\logs\app.log"), self.linux(STATE + "\\" + service.SERVICE_SPEC + ".error.txt")]
        return "".join(path.read_text(errors="replace") for path in found if path.exists())

    def clean(self) -> None:
        with contextlib.suppress(Exception):  # a service left by a failed test
            self.op("remove")
        for pid in wine_processes(self.wine.prefix, MARKER):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for folder in (APP_DIR, STATE):
            shutil.rmtree(self.linux(folder), ignore_errors=True)
        for marker in self.linux("C:\\srv").glob("exited-*"):
            marker.unlink()


def one_scm(wine: Wine) -> None:
    """One services.exe in the prefix. The session's prefix had two (one left from its boot): both
    answer the svcctl pipe in turn, so a service created through one was "missing" in every other
    answer and StartServiceW said it was running while QueryServiceStatusEx said it never started.
    Both are ended; the next SCM client starts one again."""
    for pid in wine_processes(wine.prefix, "services.exe"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wine.run(["sc", "query", "ssm-app-none"], timeout=120)
    assert len(wine_processes(wine.prefix, "services.exe")) == 1


@pytest.fixture(params=[NEWEST, OLDEST])
def box(request: pytest.FixtureRequest, windows_host: WindowsHost, world: World) -> Iterator[ServiceBox]:
    made = ServiceBox(windows_host, world, request.param)
    one_scm(made.wine)
    # Wine's services.exe ends when no Windows process is left, and when it starts again it starts the
    # auto-start services, as Windows does only at boot. On a server the SCM always runs: a process
    # holding an SCM handle keeps Wine's running, so a stopped service stays stopped.
    with made.wine.popen([made.python, "-c", KEEPER]):
        made.clean()
        try:
            yield made
        finally:
            made.clean()


def test_the_service_starts_the_app_with_its_secrets_stops_it_gracefully_or_by_force_and_is_removed(
        box: ServiceBox, world: World):
    world.client()  # IMDS serves app-role's credentials
    binary = box.prepare()
    box.app("v1")
    # Wine 8's SCM refuses two settings Windows takes (ChangeServiceConfig2W: ERROR_INVALID_LEVEL): the
    # agent goes on and says so. It takes the recovery actions but cannot report them back
    # (QueryServiceConfig2W fails, as `sc qfailure` prints nothing), and never runs them.
    assert box.install(binary, "v1") == (
        "service %s installed; WARNING: this Service Control Manager refused the delayed auto-start "
        "setting; WARNING: this Service Control Manager refused the recovery on a non-zero exit setting"
        % box.name)
    config = box.op("config")
    assert config["binary"] == binary and config["display"] == "winsvc v1 (ssm-deploy-action)"
    assert "managed by ssm-deploy-action" in config["description"]
    assert config["user"] == "LocalSystem" and config["start"] == 2  # automatic
    assert config["recovery"] is None  # Windows: {"reset": 86400, "actions": [[1, 5000], [1, 30000], [1, 60000]]}

    # First start: RUNNING, the app answers with its secrets, read by the service.
    assert box.op("start") == "started service %s" % box.name
    pid, version, seen = box.wait(box.answer, 90, "the app answers")
    assert version == "v1" and seen == fingerprints(DB_URL, API_KEY)
    status = box.op("status")
    assert status["state"] == "running" and status["pid"] > 0, status
    assert re.fullmatch(r"; service %s running \(pid %d, since \S+Z\)" % (box.name, status["pid"]),
                        box.op("note", APP_DIR))  # the start time: tests/windows/test_windows_service_more.py

    # A redeploy: a graceful stop (the app's atexit ran), the service's process gone, then v2.
    stopped = box.op("stop", str(STOP_TIMEOUT))
    assert stopped == "stopped service %s (pid %d exited)" % (box.name, status["pid"]), box.log()
    assert box.exited("v1") and box.answer() is None
    assert box.op("status")["state"] == "stopped"
    box.app("v2")
    assert box.install(binary, "v2").startswith("service %s updated" % box.name)
    assert box.op("config")["display"] == "winsvc v2 (ssm-deploy-action)"
    box.op("start")
    _, version, seen = box.wait(lambda: box.answering("v2"), 90, "v2 answers")
    assert seen == fingerprints(DB_URL, API_KEY)

    # A deaf app: ended after stop-timeout, STOPPED reached, nothing of it left.
    box.op("stop", str(STOP_TIMEOUT))
    box.app("v3", deaf=True)
    box.op("start")
    box.wait(lambda: box.answering("v3"), 90, "v3 answers")
    assert box.op("stop", str(STOP_TIMEOUT)).startswith("stopped service")
    assert box.op("status")["state"] == "stopped"
    assert not box.exited("v3") and box.answer() is None
    assert "the app did not stop within %gs" % STOP_TIMEOUT in box.log()
    wait_for(lambda: wine_processes(box.wine.prefix, MARKER) == [], 30, "no process of the service")

    # Removal.
    assert box.op("remove") == "service %s removed" % box.name
    assert box.op("status")["state"] == "missing" and box.op("config") is None
    for path in box.linux(STATE).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert DB_URL.encode() not in data and API_KEY.encode() not in data, path


def test_the_agent_deploys_the_app_as_a_windows_service_and_a_redeploy_stops_it_gracefully(app: WinApp):
    """The whole agent with app-host service: the start step installs and starts the service, the
    verify step checks it through the SCM, the next deploy's stop goes through the SCM gracefully."""
    name = winservice.service_name(WINAPP_DIR)
    ops = [app.python, app.wine.windows(app.host.wine.linux(r"C:\ssm\winsvcops.py")),
           app.host.agent_command(app.python, payload.extras_for({"app_host": "service", "platform": "windows"}))[1]]
    app.wine.linux(r"C:\ssm\winsvcops.py").write_text(OPS)
    one_scm(app.wine)
    with app.wine.popen([app.python, "-c", KEEPER]):
        try:
            v1 = app.commit("v1")
            first = app.deploy(v1, app_host="service")
            assert first.code == ExitCode.OK, first.out + first.err
            assert app.get() == (200, "v1 tinydep-1.0")
            assert "service %s installed" % name in step_line(first.out, "start"), first.out
            v2 = app.commit("v2")
            second = app.deploy(v2, app_host="service")
            assert second.code == ExitCode.OK, second.out + second.err
            assert "stopped service %s (pid " % name in step_line(second.out, "stop"), second.out
            assert app.path(STOP_MARKER % "v1").exists()  # the app's atexit ran: a graceful stop
            assert "service %s updated" % name in step_line(second.out, "start")
            assert app.get() == (200, "v2 tinydep-1.0")
        finally:
            app.dirty = True
            app.wine.run(ops + ["remove", name, WINAPP_DIR + r".deploy\service"], timeout=180)
