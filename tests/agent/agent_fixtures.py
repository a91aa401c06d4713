"""Fixture apps for the agent tests: real git repos, a local wheel, free ports, real processes.

Shared by tests/agent/conftest.py, tests/test_local_transport.py and the benchmark.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import hashlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ssm_action import payload
from ssm_action.contract import AgentResult

# The health wait in tests that expect a rollback: the bad version waits it out, and the
# restarted old version must answer within it too, also on a loaded 2-core machine.
ROLLBACK_WAIT = 2
GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"}

# A tiny stdlib web app: its version (and its dependency's) in every response.
APP_TEMPLATE = '''\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

import tinydep

VERSION = {version!r}
STATUS = {status}
{prelude}

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s tinydep-%s" % (VERSION, tinydep.VERSION)).encode()
        self.send_response(STATUS)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(os.environ["APP_PORT"])), Handler).serve_forever()
'''


def build_wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A real pure-python wheel (RECORD hashes included), so installs work offline."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": f'VERSION = "{version}"\n'.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{dist}/RECORD"] = ("\n".join(record + [f"{dist}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True, env={**os.environ, **GIT_ENV}).stdout.strip()


def kill_processes_under(root: Path) -> None:
    """SIGKILL every process whose command line mentions ``root`` (apps, hooks, agents)."""
    marker = str(root)
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            try:
                os.kill(int(name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def http_get(url: str, timeout: float = 5) -> tuple[int, str] | None:
    """(status, body) of a GET without proxies, or None when nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None


@dataclass
class AgentRun:
    code: int
    out: str
    err: str
    result: dict[str, Any] | None


@functools.lru_cache(maxsize=None)
def agent_zipapp(extras: frozenset[str] = frozenset()) -> Path:
    """The agent as it ships (payload.write) with the modules of ``extras``, written once per test process."""
    folder = tempfile.mkdtemp(prefix="agent-pyz-")
    atexit.register(shutil.rmtree, folder, True)
    return payload.write(folder, extras)


def parse_result(output: str) -> dict[str, Any] | None:
    """The result line as a dict (every key), or None when there is none."""
    result = AgentResult.parse(output)
    return result.to_dict() if result else None


def run_agent(params: dict[str, Any], env: dict[str, str], python: str = sys.executable,
              kill_after: str | None = None, b64: bool = False) -> AgentRun:
    """Run the agent; with ``kill_after``, SIGKILL it (and its children) as soon as the
    stdout line of that step (or the header, "deploy") appears."""
    text = json.dumps(params)
    with tempfile.TemporaryDirectory() as tmp:
        if b64:
            source = ["--params-b64", base64.b64encode(text.encode()).decode()]
        else:
            (Path(tmp) / "params.json").write_text(text)
            source = ["--params-file", str(Path(tmp) / "params.json")]
        with open(Path(tmp) / "stderr", "w+") as err:
            lines = []
            agent = agent_zipapp(payload.extras_for(params))
            with subprocess.Popen([python, str(agent), *source], stdout=subprocess.PIPE,
                                  stderr=err, text=True, env=env, start_new_session=True) as proc:
                assert proc.stdout is not None
                for line in proc.stdout:
                    lines.append(line)
                    if kill_after and line.split()[:1] == [kill_after]:
                        os.killpg(proc.pid, signal.SIGKILL)
            code = proc.returncode
            err.seek(0)
            out = "".join(lines)
            return AgentRun(code, out, err.read(), parse_result(out))


def commit_all(repo: Path, message: str) -> str:
    """Commit the whole work tree of ``repo`` (even unchanged) and return the new HEAD."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


class Server:
    """An origin repository to commit app versions to, and a server folder to deploy into."""

    _ids = itertools.count(1)

    def __init__(self, root: Path, wheel: Path, uv_dir: Path) -> None:
        self.root = root
        self.origin = root / "origin"
        self.app_dir = root / "srv" / "app"
        self.port = free_port()
        self.wheel_url = wheel.as_uri()
        self.env = {**os.environ, "PATH": f"{uv_dir}{os.pathsep}{os.environ['PATH']}",
                    "PIP_NO_INDEX": "1", "UV_OFFLINE": "1"}
        self.origin.mkdir(parents=True)
        git(self.origin, "init", "-q", "-b", "main")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def commit(self, version: str, status: int = 200, crash: bool = False, prelude: str = "",
               requirements: str | None = None, files: dict[str, str] | None = None) -> str:
        """Commit an app version (``prelude``: code run before serving; ``files``: more
        path -> text, "" deletes) and return its SHA."""
        if crash:
            prelude += '\nraise SystemExit("boom: %s cannot start")' % version
        content = {
            "app.py": APP_TEMPLATE.format(version=version, status=status, prelude=prelude),
            "requirements.txt": requirements or f"tinydep @ {self.wheel_url}\n",
            **(files or {}),
        }
        for rel, text in content.items():
            path = self.origin / rel
            if text == "" and path.exists():
                path.unlink()
            elif text:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        return commit_all(self.origin, version)

    def params(self, sha: str, **overrides: Any) -> dict[str, Any]:
        return {
            "deploy_id": f"{next(self._ids)}-1", "app_dir": str(self.app_dir),
            "git_remote": str(self.origin), "branch": "main", "sha": sha,
            "health_url": self.url, "health_timeout": 10, "start_grace": 0.2,
            "stop_timeout": 5, "backup_retention": 3, "platform": "linux", "installer": "uv",
            "app_env": {"APP_PORT": str(self.port)}, **overrides,
        }

    def deploy(self, sha: str, python: str = sys.executable, kill_after: str | None = None,
               b64: bool = False, **overrides: Any) -> AgentRun:
        return run_agent(self.params(sha, **overrides), self.env, python, kill_after, b64)

    def get(self) -> tuple[int, str] | None:
        return http_get(self.url)

    def head(self) -> str:
        return git(self.app_dir, "rev-parse", "HEAD")

    def state(self, name: str) -> dict[str, Any]:
        path = Path(f"{self.app_dir}.deploy") / name
        return json.loads(path.read_text()) if path.exists() else {}


def backup_manifest(path: str | Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("DEPLOY_BACKUP.json"))


@contextlib.contextmanager
def serving(root: Path, wheel: Path | None = None, uv_dir: Path | None = None) -> Iterator[Server]:
    """A Server under ``root`` (its own wheel and uv folder unless given); every process
    started under ``root`` is killed after."""
    try:
        yield Server(root, wheel or build_wheel(root), uv_dir or uv_folder(root / "uv"))
    finally:
        kill_processes_under(root)


def uv_folder(target: Path) -> Path:
    """A folder holding only ``uv`` (from this venv), to put on the agent's PATH."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    target.mkdir(parents=True, exist_ok=True)
    (target / "uv").symlink_to(uv)
    return target
