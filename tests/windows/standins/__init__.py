"""Stand-ins for the Windows programs Wine lacks, and the check that they are in place.

| stand-in (Windows side)  | replaces                   | why                                       |
|--------------------------|----------------------------|-------------------------------------------|
| git_standin.py (git.exe) | Git for Windows            | a Windows process cannot run Linux git    |
|                          |                            | and wait: bridged to it over loopback     |
| powershell_standin.py    | System32\\...\\powershell.exe | Wine's is a stub (no output, exit 0); this |
|                          |                            | answers only the agent's process listing  |
| taskkill_standin.py      | System32\\taskkill.exe      | Wine's rejects /T (the child tree)        |

Each is a pip-style launcher (distlib's t64.exe + a shebang naming the Windows Python + a
zip of the script), so it is a real .exe the agent starts with CreateProcess. Wine loads the
System32 replacements because WINEDLLOVERRIDES sets them to "native" (tests/windows/wine.py).
Without them a deploy reported success while the old version kept serving: ``check`` runs
each one as the agent does before any scenario.
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
CALLS = r"C:\standins\calls.log"  # every powershell/taskkill stand-in call, one JSON argv a line
# While this file exists the process query prints nothing, as Wine's stub PowerShell does.
EMPTY_LISTING = r"C:\standins\empty-process-list"
SYSTEM32 = r"C:\windows\system32"
PLACES = {
    "git_standin.py": BIN + r"\git.exe",
    "powershell_standin.py": SYSTEM32 + r"\WindowsPowerShell\v1.0\powershell.exe",
    "taskkill_standin.py": SYSTEM32 + r"\taskkill.exe",
}
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:\\")


def launcher(python: str, script: str, t64: Path) -> bytes:
    """A console .exe that runs ``script`` (with winproc.py beside it) on ``python``."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("__main__.py", (HERE / script).read_text())
        zipped.writestr("winproc.py", (HERE / "winproc.py").read_text())
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
import json, subprocess, sys, time
SYSTEM32 = r"C:\windows\system32"
PS = SYSTEM32 + r"\WindowsPowerShell\v1.0\powershell.exe"
QUERY = "@(Get-CimInstance Win32_Process | Select-Object ProcessId,CommandLine) | ConvertTo-Json"
def run(argv):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
def listed():
    ran = run([PS, "-NoProfile", "-NonInteractive", "-Command", QUERY])
    assert ran.returncode == 0, ran
    return {p["ProcessId"]: p["CommandLine"] or "" for p in json.loads(ran.stdout.decode("utf-8-sig"))}
git = run(["git", "--version"])
assert git.returncode == 0 and git.stdout.startswith(b"git version"), git
# A parent and its child, both marked: the listing must show both, taskkill /T /F end both.
marker = "standin-check-%d" % (7 * 6)
parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, "
                           "'-c', 'import time; time.sleep(60)', '%s'])" % marker, marker])
deadline = time.time() + 30
while True:
    found = [pid for pid, line in listed().items() if marker in line]
    if len(found) == 2 or time.time() > deadline:
        break
    time.sleep(0.2)
assert parent.pid in found and len(found) == 2, found
refused = run([SYSTEM32 + r"\taskkill.exe", "/PID", str(parent.pid), "/T"])
assert refused.returncode == 1 and b"forcefully" in refused.stderr, refused
killed = run([SYSTEM32 + r"\taskkill.exe", "/PID", str(parent.pid), "/T", "/F"])
assert killed.returncode == 0, killed
parent.wait(10)
assert not [pid for pid, line in listed().items() if marker in line]
print("STANDINS OK")
'''


def check(wine: Wine, python: str, bridge: GitBridge) -> None:
    """Fail unless git, the process listing and taskkill /T reach our stand-ins and work."""
    calls = bridge.calls
    ran = wine.run([python, "-c", CHECK], timeout=180)
    if "STANDINS OK" not in ran.out or bridge.calls == calls:
        raise AssertionError("the Windows stand-ins are not in place (a deploy would report "
                             "success while the old app kept serving):\n%s%s" % (ran.out, ran.err))
