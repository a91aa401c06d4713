"""The service host's launcher on Windows CPython (3.13 and 3.8) under Wine, run as its
scheduled task runs it.

Task Scheduler does not run under Wine; its task's command does: ``python.exe -I agent.pyz
--launch launch.json``, the spec written by the agent's own ``launcher.make_spec``/``write_spec``
with the arguments ``Service.install`` gives them (the venv's pythonw.exe, the app folder, the
plain variables, the secret references, the app log, the pid file, the agent's AWS settings).
The launcher is started without any AWS variable (a SYSTEM task has none): it reaches moto and
the IMDSv2 stand-in through the spec. The app's interpreter is killed (a crash) and the launcher
must start it again, reading the secrets again; ``schtasks /End`` ends the task's process tree,
played here by the agent's own forced stop (``WindowsPlatform.terminate``: TerminateProcess on
the tree, children first), run by a small Windows script.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import ntpath
import os
import queue
import shutil
import signal
import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest

from ssm_action import payload
from ssm_action.agent import launcher, service
from tests.agent.agent_fixtures import free_port, http_get
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.windows.host import NEWEST, OLDEST, WindowsHost
from tests.windows.wine import Wine
from tests.windows.winapp import WINDOWS, wine_processes

pytestmark = WINDOWS
T = TypeVar("T")
APP_DIR = r"C:\srv\svc"
STATE = APP_DIR + ".deploy"
MARKER = "\\srv\\svc"  # in the command line of the launcher, the app and the venv's interpreter
SECRETS = {"DATABASE_URL": "ssm:/app/db-url", "NOTES_API_KEY": "secretsmanager:app/keys#api_key"}
# Answers with its own (Windows) pid and a fingerprint of each secret it was started with.
APP = '''\
import hashlib, os
from http.server import BaseHTTPRequestHandler, HTTPServer

SEEN = " ".join(hashlib.sha256(os.environ[k].encode()).hexdigest()[:12]
                for k in ("DATABASE_URL", "NOTES_API_KEY"))
print("app %d serving" % os.getpid())

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%d %s" % (os.getpid(), SEEN)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(os.environ["APP_PORT"])), Handler).serve_forever()
'''
# Windows processes through the agent's own helpers (winproc, WindowsPlatform) from its zipapp:
# "kill PID" is TerminateProcess of one process (a crash); "end WORD" ends the tree of each
# process whose command line holds WORD and whose parent's does not (schtasks /End), "list WORD"
# prints those processes.
OPS = '''\
import json, os, sys
sys.path.insert(0, sys.argv[1])
from ssm_action.agent import winproc
from ssm_action.agent.windows import WindowsPlatform

what, arg = sys.argv[2], sys.argv[3]
if what == "kill":
    sys.exit(0 if winproc.terminate(int(arg)) else 1)
procs = {p.pid: p.parent for p in winproc.snapshot() if p.pid != os.getpid()}
lines = {pid: winproc.command_line(pid) or "" for pid in procs}
found = {pid: line for pid, line in lines.items() if arg.lower() in line.lower()}
if what == "list":
    print(json.dumps({pid: [procs[pid], line] for pid, line in found.items()}))
else:
    tops = [pid for pid in found if procs[pid] not in found]
    print(json.dumps([WindowsPlatform().terminate(pid, True) for pid in tops] + tops))
'''


def wait_for(check: Callable[[], T | None], seconds: float, what: str) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError("not within %ss: %s" % (seconds, what))


class Box:
    """The app folder, its state folder and the Windows helper script in the prefix."""

    def __init__(self, host: WindowsHost, world: World, version: str) -> None:
        self.wine: Wine = host.wine
        self.python = host.python(version)
        self.port = free_port()
        extras = payload.extras_for({"app_host": "service", "platform": "windows",
                                     "app_secrets": SECRETS})
        self.agent = host.agent_command(self.python, extras)[1]
        self.ops = self.wine.linux(r"C:\ssm\winops.py")
        self.ops.write_text(OPS)
        self.where = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": world.imds.url,
                      "AWS_ENDPOINT_URL": world.moto, "AWS_REGION": "us-east-1"}

    def linux(self, windows_path: str) -> Path:
        return self.wine.linux(windows_path)

    def op(self, *args: str) -> object:
        ran = self.wine.run([self.python, self.wine.windows(self.ops), self.agent, *args],
                            timeout=120)
        assert ran.code == 0 or args[0] == "kill", ran.out + ran.err
        return json.loads(ran.out) if args[0] != "kill" else ran.code

    def install(self) -> list[str]:
        """What ``Service.install`` leaves: the app, the agent copy, the spec; the task's command."""
        venv = ntpath.join(APP_DIR, ".venv")
        self.linux(APP_DIR).mkdir(parents=True)
        self.linux(APP_DIR + r"\app.py").write_text(APP)
        made = self.wine.run([self.python, "-m", "venv", "--without-pip", venv], timeout=300)
        assert made.code == 0, made.out + made.err
        self.linux(STATE + r"\logs").mkdir(parents=True)
        agent = ntpath.join(STATE, "agent.pyz")
        shutil.copyfile(self.linux(self.agent), self.linux(agent))
        spec = ntpath.join(STATE, service.SERVICE_SPEC)
        launcher.write_spec(str(self.linux(spec)), launcher.make_spec(
            [ntpath.join(venv, "Scripts", "pythonw.exe"), ntpath.join(APP_DIR, "app.py")],
            APP_DIR, {"APP_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}, SECRETS,
            ntpath.join(STATE, "logs", "app.log"), ntpath.join(STATE, service.PID),
            settings=self.where))
        return [self.python, "-I", agent, "--launch", spec]

    def answer(self) -> tuple[int, str] | None:
        got = http_get("http://127.0.0.1:%d/" % self.port, timeout=2)
        if not got or got[0] != 200:
            return None
        pid, seen = got[1].split(" ", 1)
        return int(pid), seen

    def answer_other_than(self, pid: int) -> tuple[int, str] | None:
        got = self.answer()
        return got if got and got[0] != pid else None

    def log(self) -> str:
        path = self.linux(STATE + r"\logs\app.log")
        return path.read_text(errors="replace") if path.exists() else ""

    def clean(self) -> None:
        for pid in wine_processes(self.wine.prefix, MARKER):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for folder in (APP_DIR, STATE):
            shutil.rmtree(self.linux(folder), ignore_errors=True)


@pytest.fixture(params=[NEWEST, OLDEST])
def box(request: pytest.FixtureRequest, windows_host: WindowsHost, world: World) -> Iterator[Box]:
    """On the newest and the oldest Windows CPython the agent supports."""
    made = Box(windows_host, world, request.param)
    made.clean()
    try:
        yield made
    finally:
        made.clean()


def drained(lines: "queue.Queue[tuple[str, str | None]]") -> str:
    """What the launcher wrote to its stdout and stderr (a task's go nowhere), for a failure."""
    got = []
    while not lines.empty():
        name, line = lines.get()
        got.extend([] if line is None else ["%s: %s" % (name, line)])
    return "".join(got)


def fingerprints(*values: str) -> str:
    return " ".join(hashlib.sha256(v.encode()).hexdigest()[:12] for v in values)


def test_the_launcher_restarts_the_crashed_app_with_its_secrets_read_again_and_ends_with_it(
        box: Box, world: World):
    world.client()  # IMDS serves app-role's credentials
    task_command = box.install()
    spec_text = box.linux(STATE + "\\" + service.SERVICE_SPEC).read_text()
    assert DB_URL not in spec_text and API_KEY not in spec_text  # references only
    # As the task runs it: in the background, no AWS variable in its environment.
    with box.wine.popen(task_command, env=box.wine.env()) as (task, lines):
        first, seen = wait_for(box.answer, 90, "the app answers\n" + box.log())
        assert seen == fingerprints(DB_URL, API_KEY)
        procs = box.op("list", MARKER)
        assert isinstance(procs, dict) and str(first) in procs, procs
        record = json.loads(box.linux(STATE + "\\" + service.PID).read_text())
        assert procs[str(first)][0] == record["pid"]  # the venv's pythonw.exe started it

        # A crash, while the role cannot read one of the secrets: the launcher keeps trying.
        world.client("ssm-only")
        puts = sum(1 for method, _, _ in world.imds.requests if method == "PUT")
        assert box.op("kill", str(first)) == 0
        wait_for(lambda: "cannot read the app's secrets" in box.log() or task.poll() is not None,
                 60, "the launcher says why it cannot start the app again\n" + box.log())
        assert task.poll() is None, box.log() + drained(lines)  # the launcher still runs
        world.client()
        second, seen = wait_for(lambda: box.answer_other_than(first), 90,
                                "a new app answers\n" + box.log())
        assert seen == fingerprints(DB_URL, API_KEY)
        procs = box.op("list", MARKER)
        again = json.loads(box.linux(STATE + "\\" + service.PID).read_text())
        assert isinstance(procs, dict) and procs[str(second)][0] == again["pid"] != record["pid"]
        assert str(first) not in procs and str(record["pid"]) not in procs, procs
        assert sum(1 for method, _, _ in world.imds.requests if method == "PUT") >= puts + 2
        assert "the app exited with code 1" in box.log()

        # schtasks /End: the task's process tree, the launcher first found by its command line.
        ended = box.op("end", "--launch")
        assert isinstance(ended, list) and ended[0] is True and len(ended) == 2, ended
        task.wait(timeout=60)  # the launcher ended (Wine's exit status for it says 0, not 1)
    wait_for(lambda: box.answer() is None, 30, "the app is gone")
    assert box.op("list", MARKER) == {}
    wait_for(lambda: wine_processes(box.wine.prefix, MARKER) == [], 30,
             "no Wine process of the launcher or the app left")
    for path in box.linux(STATE).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert DB_URL.encode() not in data and API_KEY.encode() not in data, path
