"""Stand-ins for the Windows programs Wine lacks, and the check that they are in place.

| stand-in (Windows side)  | replaces                   | why                                       |
|--------------------------|----------------------------|-------------------------------------------|
| git_standin.py (git.exe) | Git for Windows            | a Windows process cannot run Linux git    |
|                          |                            | and wait: bridged to it over loopback     |
| powershell_standin.py    | System32\\...\\powershell.exe | Wine's is a stub (no output, exit 0); this |
|                          |                            | records .ps1 hook calls and fails loudly  |
| ssm_job_standin.py       | the SSM Agent's job object | no SSM Agent under Wine: runs the agent   |
|                          | (kill on close, no         | in such a job, then closes it as the SSM  |
|                          | breakaway unless asked)    | Agent's exit does (test_windows_job.py)   |

The agent lists and ends processes through the Windows API (ssm_action/agent/winproc.py),
executed for real under Wine: no stand-in for a process query or taskkill.

The first two are pip-style launchers (distlib's t64.exe + a shebang naming the Windows Python + a
zip of the script), so each is a real .exe the agent starts with CreateProcess. Wine loads the
System32 replacement because WINEDLLOVERRIDES sets it to "native" (tests/windows/wine.py).
``check`` runs each one as the agent does before any scenario. ssm_job_standin.py is not
installed: a test runs it as a script on the Windows Python, with the agent's command after it.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socketserver
import subprocess
import threading
import zipfile
from pathlib import Path

from tests.windows.wine import Wine

HERE = Path(__file__).resolve().parent
BIN = r"C:\standins\bin"
CALLS = r"C:\standins\calls.log"  # every powershell stand-in call, one JSON argv a line
SYSTEM32 = r"C:\windows\system32"
PLACES = {
    "git_standin.py": BIN + r"\git.exe",
    "powershell_standin.py": SYSTEM32 + r"\WindowsPowerShell\v1.0\powershell.exe",
}
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:\\")


def launcher(python: str, script: str, t64: Path) -> bytes:
    """A console .exe that runs ``script`` on ``python``."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("__main__.py", (HERE / script).read_text())
    # -S -E: no site-packages scan, no PYTHON* variables: a quicker start for every git call.
    return t64.read_bytes() + b'#!"' + python.encode() + b'" -S -E\n' + archive.getvalue()


def calls(wine: Wine) -> list[list[str]]:
    path = wine.linux(CALLS)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def install(wine: Wine, python: str, t64: Path) -> None:
    for script, place in PLACES.items():
        target = wine.linux(place)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)  # Wine's builtin placeholder
        target.write_bytes(launcher(python, script, t64))


class GitBridge(socketserver.ThreadingTCPServer):
    """The Linux end of git_standin.py: runs Linux git with Windows paths mapped."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, wine: Wine, git_env: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _GitRequest)
        self.wine = wine
        self.git_env = git_env
        self.calls = 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.server_address[1]

    def map(self, arg: str) -> str:
        return str(self.wine.linux(arg)) if _WINDOWS_PATH.match(arg) else arg

    def git(self, request: dict) -> dict:
        self.calls += 1
        env = dict(self.git_env, **{k: v for k, v in request["env"].items()
                                    if k in ("GIT_TERMINAL_PROMPT", "GCM_INTERACTIVE")})
        ran = subprocess.run(["git", *map(self.map, request["argv"])], cwd=self.map(request["cwd"]),
                             env=env, capture_output=True, timeout=600)
        return {"code": ran.returncode, "out": base64.b64encode(ran.stdout).decode(),
                "err": base64.b64encode(ran.stderr).decode()}


class _GitRequest(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request = json.loads(self.rfile.readline())
        assert isinstance(self.server, GitBridge)
        self.wfile.write(json.dumps(self.server.git(request)).encode() + b"\n")


CHECK = r'''
import subprocess
PS = r"C:\windows\system32\WindowsPowerShell\v1.0\powershell.exe"
def run(argv):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
git = run(["git", "--version"])
assert git.returncode == 0 and git.stdout.startswith(b"git version"), git
ps = run([PS, "-NoProfile", "-File", r"C:\nowhere.ps1"])
assert ps.returncode == 99 and b"PowerShell stand-in" in ps.stderr, ps
print("STANDINS OK")
'''


def check(wine: Wine, python: str, bridge: GitBridge) -> None:
    """Fail unless git and PowerShell reach our stand-ins (not Wine's silent stub)."""
    calls = bridge.calls
    ran = wine.run([python, "-c", CHECK], timeout=180)
    if "STANDINS OK" not in ran.out or bridge.calls == calls:
        raise AssertionError("the Windows stand-ins are not in place:\n%s%s" % (ran.out, ran.err))
