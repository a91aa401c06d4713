"""An app to deploy on the Windows host: an origin repo on Linux, ``C:\\srv\\app`` in the prefix."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from ssm_action import payload
from tests.agent.agent_fixtures import APP_TEMPLATE, commit_all, free_port, git, http_get, parse_result
from tests.windows.host import WindowsHost

# Every Windows test module's marks: slow, and one xdist worker for the one Wine prefix.
WINDOWS = [pytest.mark.slow, pytest.mark.xdist_group("wine")]
APP_DIR = r"C:\srv\app"
BACKUP_DIR = r"C:\srv\app-backups"
ROLLBACK_WAIT = 3  # the bad version waits this out; the old one must answer within it
# Every version records a clean exit (atexit runs on a graceful stop, not on TerminateProcess)
# and opts in to Windows' graceful stop as docs/deployments.md shows: it exits when the file
# named in DEPLOY_STOP_FILE appears (the sample app's stop_when_asked does the same).
STOP_MARKER = r"C:\srv\stopped-%s"
CLEAN_EXIT = """
import _thread, atexit, os, signal, sys, threading, time
atexit.register(lambda: open(r"%s" %% VERSION, "w").close())
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
def _stop_when_asked(path=os.environ.get("DEPLOY_STOP_FILE")):
    while path and not os.path.exists(path):
        time.sleep(0.1)
    if path:
        _thread.interrupt_main()
threading.Thread(target=_stop_when_asked, daemon=True).start()
""" % STOP_MARKER


@dataclass
class AgentRun:
    code: int
    out: str
    err: str
    result: dict[str, Any]


def wine_processes(prefix: Path, marker: str) -> list[int]:
    """Linux pids of this prefix's Wine processes whose (Windows) command line has ``marker``."""
    wanted = b"WINEPREFIX=%s\0" % str(prefix).encode()
    found = []
    for name in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().decode(errors="replace")
            if name.isdigit() and marker.lower() in cmdline.lower() and wanted in Path(
                    f"/proc/{name}/environ").read_bytes():
                found.append(int(name))
        except OSError:
            continue
    return found


class WinApp:
    """Commits app versions to an origin and deploys them with the real agent on Windows."""

    _ids = itertools.count(1)

    def __init__(self, host: WindowsHost, root: Path, wheel: Path, python: str) -> None:
        self.host = host
        self.wine = host.wine
        self.python = python
        self.origin = root / "origin"
        self.port = free_port()
        self.wheel_url = "file:///" + self.wine.windows(wheel).replace("\\", "/")
        self.origin.mkdir(parents=True)
        git(self.origin, "init", "-q", "-b", "main")
        self.srv = self.wine.linux(r"C:\srv")
        self.dirty = False  # True: unfit for the next test (another Python, a stray app)
        self.versions = itertools.count(1)
        self.clean()

    def clean(self) -> None:
        """No process and no file left from an earlier test."""
        for pid in wine_processes(self.wine.prefix, "\\srv\\"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.srv.exists():
            shutil.rmtree(self.srv, ignore_errors=True)
            if time.monotonic() > deadline:
                raise RuntimeError("cannot clean %s" % self.srv)
        self.srv.mkdir(parents=True)

    def path(self, windows_path: str) -> Path:
        return self.wine.linux(windows_path)

    @property
    def app_dir(self) -> Path:
        return self.path(APP_DIR)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def commit(self, version: str, status: int = 200, crash: bool = False, prelude: str = "",
               requirements: str | None = None, files: dict[str, str] | None = None) -> str:
        prelude = CLEAN_EXIT + prelude
        if crash:
            prelude += '\nraise SystemExit("boom: %s cannot start")' % version
        content = {"app.py": APP_TEMPLATE.format(version=version, status=status, prelude=prelude),
                   "requirements.txt": requirements or f"tinydep @ {self.wheel_url}\n",
                   **(files or {})}
        for old in self.origin.iterdir():  # each version holds only its own files
            if old.name != ".git":
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        for rel, text in content.items():
            path = self.origin / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return commit_all(self.origin, version)

    def params(self, sha: str, **overrides: Any) -> dict[str, Any]:
        return {
            "deploy_id": f"{next(self._ids)}-1", "app_dir": APP_DIR, "backup_dir": BACKUP_DIR,
            "git_remote": self.wine.windows(self.origin), "branch": "main", "sha": sha,
            "health_url": self.url, "health_timeout": 20, "start_grace": 0.5,
            "stop_timeout": 5, "backup_retention": 3, "platform": "windows",
            "installer": "pip", "app_env": {"APP_PORT": str(self.port)}, **overrides,
        }

    def deploy(self, sha: str, python: str | None = None,
               on_line: Callable[[str, Any], None] | None = None, env: dict[str, str] | None = None,
               wrap: tuple[str, ...] = (), **overrides: Any) -> AgentRun:
        """Run the agent on Windows Python to its end; ``on_line`` sees each stdout line;
        ``env``: variables added to the agent's environment (as the SSM Agent's would be);
        ``wrap``: a Windows command that runs the agent's command line given after it."""
        params = self.params(sha, **overrides)
        params_file = self.path(r"C:\ssm") / ("params-%s.json" % params["deploy_id"])
        params_file.parent.mkdir(parents=True, exist_ok=True)
        params_file.write_text(json.dumps(params))
        # The agent as the action ships it for these parameters (payload.extras_for).
        argv = [*wrap] + self.host.agent_command(python or self.python, payload.extras_for(params)) + [
            "--params-file", self.wine.windows(params_file)]
        ran = self.wine.run(argv, timeout=600, on_line=on_line, env=self.wine.env(**(env or {})))
        return AgentRun(ran.code, ran.out.replace("\r\n", "\n"), ran.err,
                        parse_result(ran.out) or {})

    def ensure_running(self) -> None:
        """A healthy version deployed on the newest Python, no deploy in progress: the one
        left by the previous test when it is, else a fresh first deploy."""
        if not self.dirty and self.get() is not None and self.state("last-good.json") and not (
                self.state("journal.json") or self.state("lock-owner.json")):
            return
        self.clean()
        run = self.deploy(self.commit("seed-%d" % next(self.versions)))
        assert run.code == 0, run.out + run.err
        self.dirty = False

    def get(self) -> tuple[int, str] | None:
        return http_get(self.url)

    def serving(self) -> str:
        """The version the app on the port answers with ("" when nothing answers)."""
        answer = self.get()
        return answer[1].split()[0] if answer else ""

    def app_processes(self) -> list[int]:
        """Linux pids of the Wine processes running our app (a venv launcher and its child)."""
        return wine_processes(self.wine.prefix, APP_DIR + "\\app.py")

    def backups(self) -> list[Path]:
        folder = self.path(BACKUP_DIR)
        return sorted(folder.glob("app-*.zip")) if folder.is_dir() else []

    def head(self) -> str:
        return git(self.app_dir, "rev-parse", "HEAD")

    def state(self, name: str) -> dict[str, Any]:
        path = self.path(APP_DIR + ".deploy") / name
        return json.loads(path.read_text()) if path.exists() else {}
