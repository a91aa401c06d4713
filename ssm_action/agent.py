"""The deploy agent: runs ON the server (shipped alone, stdlib only, Python 3.8+).

Usage::

    python agent.py --params-file PATH     # a JSON parameter object
    python agent.py --params-b64 B64       # the same JSON, UTF-8, base64

It deploys one exact commit of a Python app from its git clone: lock -> record
-> backup -> sync -> deps -> pre-stop hook -> stop -> start -> verify ->
post-start hook, and on a failure from sync on it puts the previous version
back (rollback-*), unless ``rollback`` is false. Each step prints one line with
its duration; the last line is ``SSM_DEPLOY_RESULT {json}`` and the exit code
is 0 ok, 1 failed (previous version not restored), 2 failed and rolled back,
3 busy, 4 bad parameters.

State lives OUTSIDE the work tree so ``git checkout -f`` / ``git clean`` never
touch it, in the sibling folder ``<app_dir>.deploy/``:

- ``deploy.lock``: held with an OS lock (flock / msvcrt) for the whole deploy;
  the OS drops it when the agent dies, so a lock whose owner is dead is simply
  taken over. ``lock-owner.json`` says who holds it (for the "busy" message).
- ``journal.json``: the deploy in progress (phase, previous SHA, backup,
  discarded paths, ``dirty`` once the work tree may have changed). A journal
  left by a killed agent tells the next deploy what the last good files were.
- ``app.json``: the PID file of the app process the agent started.
- ``last-good.json``: the last version that passed its checks (also kept
  reachable in the clone as ``refs/deploy/last-good``).
- ``deps.json``: hash of the requirements last fully installed in the venv.
- ``logs/<time>-<deploy_id>.log`` (full git/pip/hook output, newest 20 kept)
  and ``logs/app.log`` (the app's stdout/stderr).

Every state file is written to a temporary name, flushed and renamed.

"sync" fetches (the branch, then the commit itself) only when the commit is not
already in the clone, then ``git checkout -f -B <branch> <sha>`` and checks HEAD.
"deps" creates the venv when missing or made by another Python and installs
``-r <requirements> --upgrade`` with uv (``installer`` uv, or auto with uv on
PATH: ``uv pip install --python <venv python>``) or pip; output goes to the log.

Backups are zip files ``<backup_dir>/<app>-<UTC time>-<deploy_id>.zip`` of the
work tree WITHOUT ``.git``, virtual environments and caches, plus a
``DEPLOY_BACKUP.json`` manifest naming the commit. Files alone bring the app
back even when the clone's history is lost (unzip, create the venv, start it);
history lives on the remote. Rollback checks out the previous commit and puts
back, from the backup, the server-local changes the deploy discarded (every file
from the backup when git cannot check the commit out), reinstalls the
requirements if they differ from what the venv holds, restarts and re-verifies.

The app is identified by its command line: a python executable running the
absolute entry path. "stop" ends every such process (the one in the PID file
and any orphan left by a killed agent), gracefully first, forced after
``stop_timeout``. On Windows the app is started with the venv's
``pythonw.exe``, detached, in a new process group and out of the SSM job
object; graceful stop there is ``taskkill`` without ``/F``, forced at once when
refused (CTRL_BREAK cannot reach a console-less process; an app that needs a clean
shutdown can get it from a pre-stop hook).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import datetime
import hashlib
import http.client
import json
import ntpath
import os
import re
import shutil
import signal
import subprocess  # nosec B404 # running git, pip, hooks and the app is this module's job
import sys
import time
import traceback
import urllib.error
import urllib.request
import zipfile
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

RESULT_PREFIX = "SSM_DEPLOY_RESULT "  # same as ssm_action.results.RESULT_PREFIX
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ROLLED_BACK = 2
EXIT_BUSY = 3
EXIT_BAD_PARAMS = 4

GIT_TIMEOUT = 600
INSTALL_TIMEOUT = 1800
HOOK_TIMEOUT = 600
STDOUT_BUDGET = 16000  # SSM keeps 24,000 chars of stdout; the result line needs the rest
LOGS_KEPT = 20
APP_LOG_ROTATE_BYTES = 10 * 1024 * 1024
MANIFEST = "DEPLOY_BACKUP.json"
CACHE_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox"}
STEPS = ("lock", "record", "backup", "sync", "deps", "pre-stop", "stop", "start", "verify",
         "post-start")

_REQUIRED = object()
# name: (type, default); "number" accepts int or float.
PARAMS: Dict[str, Tuple[str, Any]] = {
    "deploy_id": ("str", _REQUIRED),
    "app_dir": ("str", _REQUIRED),
    "git_remote": ("str", ""),
    "branch": ("str", ""),
    "sha": ("str", _REQUIRED),
    "venv_dir": ("str", ""),
    "requirements_file": ("str", "requirements.txt"),
    "entry": ("str", "app.py"),
    "python": ("str", ""),
    "health_url": ("str", ""),
    "health_timeout": ("number", 60),
    "backup_dir": ("str", ""),
    "backup_retention": ("int", 5),
    "rollback": ("bool", True),
    "platform": ("str", _REQUIRED),
    "installer": ("str", "auto"),
    "hooks_dir": ("str", "deploy/hooks"),
    "stop_timeout": ("number", 15),
    "start_grace": ("number", 2),
    "app_env": ("dict", {}),
}


class StepError(Exception):
    """A step failed; the message says what, and how to fix it when known."""


class Busy(StepError):
    """Another deploy holds the lock."""


class ParamError(Exception):
    """The parameter object is invalid."""


class Ran(NamedTuple):
    code: int
    out: str
    err: str


# ---------------------------------------------------------------- parameters

KINDS = {"str": ((str,), "a string"), "number": ((int, float), "a number"),
         "int": ((int,), "an integer"), "bool": ((bool,), "true or false"),
         "dict": ((dict,), "an object")}


def _type_ok(kind: str, value: Any) -> bool:
    if isinstance(value, bool) and kind != "bool":  # JSON true is not 1
        return False
    return isinstance(value, KINDS[kind][0])


def _inside(rel: str) -> bool:
    """A relative path that stays inside the app folder."""
    norm = os.path.normpath(rel)
    return bool(rel) and not os.path.isabs(rel) and norm != ".." and not norm.startswith(
        ".." + os.sep) and not ntpath.isabs(rel)


def _contains(outer: str, inner: str) -> bool:
    """Whether ``inner`` is ``outer`` or below it."""
    outer, inner = (os.path.normcase(os.path.normpath(p)) for p in (outer, inner))
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def validate(raw: Any, os_name: str) -> Dict[str, Any]:
    """Check every key (types, ranges, shapes) and fill the defaults."""
    if not isinstance(raw, dict):
        raise ParamError("the parameters must be a JSON object")
    errors = ["unknown parameter %r" % key for key in sorted(set(raw) - set(PARAMS))]
    params: Dict[str, Any] = {}
    for name, (kind, default) in PARAMS.items():
        if name not in raw:
            if default is _REQUIRED:
                errors.append("%s is required" % name)
            params[name] = default
        elif not _type_ok(kind, raw[name]):
            errors.append("%s must be %s" % (name, KINDS[kind][1]))
            params[name] = default
        else:
            params[name] = raw[name]
    if errors:
        raise ParamError("; ".join(errors))
    params["sha"] = params["sha"].lower()
    checks = [
        (re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", params["deploy_id"]),
         "deploy_id must be 1-64 letters, digits, '.', '_' or '-'"),
        (re.fullmatch(r"[0-9a-f]{40}", params["sha"]), "sha must be a full 40-hex commit id"),
        (os.path.isabs(params["app_dir"])
         and os.path.dirname(os.path.normpath(params["app_dir"])) != os.path.normpath(
             params["app_dir"]), "app_dir must be an absolute path below a root"),
        (not params["git_remote"].startswith("-"), "git_remote must not start with '-'"),
        (params["branch"] == "" or (re.fullmatch(r"[A-Za-z0-9._/-]+", params["branch"])
                                    and not params["branch"].startswith("-")
                                    and ".." not in params["branch"]),
         "branch is not a valid branch name"),
        (_inside(params["requirements_file"]), "requirements_file must be relative to app_dir"),
        (_inside(params["entry"]), "entry must be relative to app_dir"),
        (_inside(params["hooks_dir"]), "hooks_dir must be relative to app_dir"),
        (not _contains(os.path.join(params["app_dir"], params["venv_dir"] or ".venv"),
                       params["app_dir"]), "venv_dir must not be app_dir or one of its parents"),
        (params["backup_dir"] == "" or os.path.isabs(params["backup_dir"]),
         "backup_dir must be absolute (or empty)"),
        (params["health_url"] == "" or re.match(r"https?://[^/\s]", params["health_url"]),
         "health_url must be an http:// or https:// URL"),
        (params["health_timeout"] > 0, "health_timeout must be > 0"),
        (params["stop_timeout"] >= 0, "stop_timeout must be >= 0"),
        (params["start_grace"] >= 0, "start_grace must be >= 0"),
        (params["backup_retention"] >= 1, "backup_retention must be >= 1"),
        (params["installer"] in ("auto", "pip", "uv"), "installer must be auto, pip or uv"),
        (params["platform"] in ("windows", "linux"), "platform must be windows or linux"),
        (params["platform"] not in ("windows", "linux") or params["platform"] == os_name,
         "platform is %r but this server runs %s" % (params["platform"], os_name)),
        (all(isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k
             for k, v in params["app_env"].items()),
         "app_env must map variable names to strings"),
    ]
    errors = [message for ok, message in checks if not ok]
    if errors:
        raise ParamError("; ".join(errors))
    return params


def load_params(argv: List[str], os_name: str) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(prog="agent.py", description="Deploy one commit of an app.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--params-file", help="JSON parameter file")
    source.add_argument("--params-b64", help="base64 of the UTF-8 JSON parameters")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # bad arguments: still exit 4 with a result line
        if exc.code == 0:  # --help
            raise
        raise ParamError("usage: agent.py --params-file PATH | --params-b64 B64")
    try:
        if args.params_file:
            with open(args.params_file, "rb") as handle:
                text = handle.read().decode("utf-8")
        else:
            text = base64.b64decode(args.params_b64, validate=True).decode("utf-8")
        raw = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ParamError("cannot read the parameters: %s" % exc)
    return validate(raw, os_name)


# ---------------------------------------------------------------- output

_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


class Redactor:
    """Strips URL credentials and app_env values from anything printed or logged."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values (ports, flags) would blank out ordinary text; secrets are longer.
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(r"\1***@", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def tail(text: str, lines: int = 10, width: int = 300) -> List[str]:
    """The last non-empty lines of ``text``, each cut to ``width``."""
    kept = [line.rstrip()[:width] for line in text.splitlines() if line.strip()]
    return kept[-lines:]


class Reporter:
    """Short lines on stdout (within SSM's budget), everything in the log file."""

    def __init__(self, redact: Redactor) -> None:
        self.redact = redact
        self.log_path: Optional[str] = None
        self._log: Any = None
        self._printed = 0
        self.steps: List[Dict[str, Any]] = []

    def open_log(self, path: str) -> None:
        self._log = open(path, "a", encoding="utf-8")
        self.log_path = path

    def close(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def log(self, text: str) -> None:
        self._write(self.redact(text))

    def _write(self, text: str) -> None:
        if self._log:
            for line in text.splitlines() or [""]:
                self._log.write("%s %s\n" % (utc_now(), line))
            self._log.flush()

    def say(self, text: str) -> None:
        text = self.redact(text)
        self._write(text)
        if self._printed + len(text) < STDOUT_BUDGET:
            print(text, flush=True)
        elif self._printed < STDOUT_BUDGET:
            print("... (more in the log file)", flush=True)
        self._printed += len(text) + 1

    def say_tail(self, text: str, lines: int, prefix: str = "    ") -> List[str]:
        """Print the last ``lines`` lines of ``text`` indented; return them."""
        kept = tail(text, lines)
        for line in kept:
            self.say(prefix + line)
        return kept

    def step_line(self, name: str, ok: bool, seconds: float, detail: str) -> None:
        self.steps.append({"name": name, "seconds": round(seconds, 3), "ok": ok})
        self.say("%-16s %-6s %6.2fs  %s" % (name, "ok" if ok else "FAILED", seconds,
                                            " ".join(detail.splitlines())))

    def scrub(self, value: Any) -> Any:
        """Redact every string in a JSON-able value (before escaping can hide a secret)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        return value

    def result(self, result: Dict[str, Any]) -> None:
        line = json.dumps(self.scrub(result), separators=(",", ":"), sort_keys=True)
        self.log(RESULT_PREFIX + line)
        print(RESULT_PREFIX + line, flush=True)


# ---------------------------------------------------------------- platform layer

def _is_app_argv(argv: List[str], entry: str) -> bool:
    return len(argv) >= 2 and "python" in os.path.basename(argv[0]).lower() and entry in argv[1:]


class PosixPlatform:
    """Linux: a new session, output to a file, signals to the process group."""

    name = "linux"
    hook_suffixes = (".sh", ".py")

    def venv_python(self, venv: str) -> str:
        return os.path.join(venv, "bin", "python")

    def app_python(self, venv: str) -> str:
        return self.venv_python(venv)

    def hook_argv(self, hook: str, python: str) -> List[str]:
        return ["/bin/sh", hook] if hook.endswith(".sh") else [python, hook]

    def start(self, argv: List[str], cwd: str, env: Dict[str, str],
              out: Any) -> Tuple[subprocess.Popen, str]:
        proc = subprocess.Popen(  # nosec B603 # argv is [venv python, entry script]
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)
        return proc, ""

    def alive(self, pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a zombie has exited; nobody reaped it yet
            with open("/proc/%d/stat" % pid) as handle:
                return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True

    def find_app_pids(self, entry: str) -> List[int]:
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % name, "rb") as handle:
                    argv = handle.read().decode("utf-8", "replace").split("\0")
            except OSError:
                continue
            if _is_app_argv(argv, entry):
                pids.append(int(name))
        return sorted(pids)

    def terminate(self, pid: int, force: bool) -> bool:
        """Signal the app (its process group when it leads one); False if it was gone."""
        sig = signal.SIGKILL if force else signal.SIGTERM
        try:
            if os.getpgid(pid) == pid:  # the app leads its own session: end its children too
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True

    def try_lock(self, fd: int) -> bool:
        import fcntl
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


class WindowsPlatform:
    """Windows: pythonw.exe detached and out of the SSM job, taskkill, PowerShell hooks."""

    name = "windows"
    hook_suffixes = (".ps1", ".py")
    DETACHED_PROCESS = 0x00000008
    CREATE_NEW_PROCESS_GROUP = 0x00000200
    CREATE_BREAKAWAY_FROM_JOB = 0x01000000
    CREATE_NO_WINDOW = 0x08000000
    START_FLAGS = (DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_BREAKAWAY_FROM_JOB
                   | CREATE_NO_WINDOW)
    ERROR_ACCESS_DENIED = 5
    STILL_ACTIVE = 259
    PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
    PS_PROCESSES = ("[Console]::OutputEncoding = [Text.Encoding]::UTF8; "
                    "@(Get-CimInstance Win32_Process | Select-Object ProcessId,CommandLine)"
                    " | ConvertTo-Json -Compress")

    def __init__(self, system_root: Optional[str] = None, kernel32: Any = None) -> None:
        root = system_root or os.environ.get("SystemRoot", r"C:\Windows")
        self.system32 = ntpath.join(root, "System32")
        self.kernel32 = kernel32

    def venv_python(self, venv: str) -> str:
        return ntpath.join(venv, "Scripts", "python.exe")

    def app_python(self, venv: str) -> str:
        pythonw = ntpath.join(venv, "Scripts", "pythonw.exe")
        return pythonw if os.path.isfile(pythonw) else self.venv_python(venv)

    def powershell(self) -> List[str]:
        exe = ntpath.join(self.system32, "WindowsPowerShell", "v1.0", "powershell.exe")
        return [exe, "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass"]

    def hook_argv(self, hook: str, python: str) -> List[str]:
        return self.powershell() + ["-File", hook] if hook.lower().endswith(".ps1") else [
            python, hook]

    def start(self, argv: List[str], cwd: str, env: Dict[str, str],
              out: Any) -> Tuple[subprocess.Popen, str]:
        options = dict(cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                       stderr=subprocess.STDOUT, close_fds=True)
        try:
            return subprocess.Popen(  # nosec B603 # argv is [venv pythonw, entry script]
                argv, creationflags=self.START_FLAGS, **options), ""
        except OSError as exc:
            if getattr(exc, "winerror", None) != self.ERROR_ACCESS_DENIED:
                raise
        proc = subprocess.Popen(  # nosec B603 # same argv, without breaking away from the job
            argv, creationflags=self.START_FLAGS & ~self.CREATE_BREAKAWAY_FROM_JOB, **options)
        return proc, ("; the SSM job refused breakaway: the app may stop when the command "
                      "ends (run it as a service or scheduled task if it does)")

    def _kernel32(self) -> Any:
        if self.kernel32 is None:
            k32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
            k32.OpenProcess.restype = ctypes.c_void_p
            k32.OpenProcess.argtypes = (ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong)
            k32.GetExitCodeProcess.argtypes = (ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong))
            k32.CloseHandle.argtypes = (ctypes.c_void_p,)
            self.kernel32 = k32
        return self.kernel32

    def alive(self, pid: int) -> bool:
        k32 = self._kernel32()
        handle = k32.OpenProcess(self.PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:  # access denied means it exists but belongs to someone else
            return ctypes.get_last_error() == self.ERROR_ACCESS_DENIED  # type: ignore
        try:
            code = ctypes.c_ulong()
            return bool(k32.GetExitCodeProcess(handle, ctypes.byref(code))) and (
                code.value == self.STILL_ACTIVE)
        finally:
            k32.CloseHandle(handle)

    def find_app_pids(self, entry: str) -> List[int]:
        ran = subprocess.run(  # nosec B603 # fixed PowerShell query, absolute exe path
            self.powershell() + ["-Command", self.PS_PROCESSES], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
            creationflags=self.CREATE_NO_WINDOW)
        if ran.returncode:
            raise StepError("listing processes with PowerShell failed: %s" % " ".join(
                tail(ran.stderr.decode("utf-8", "replace"), 2)))
        processes = json.loads(ran.stdout.decode("utf-8-sig", "replace") or "[]")  # BOM or not
        if isinstance(processes, dict):
            processes = [processes]
        return sorted(int(p["ProcessId"]) for p in processes
                      if int(p["ProcessId"]) != os.getpid()
                      and self._is_app_cmdline(p.get("CommandLine") or "", entry))

    @staticmethod
    def _is_app_cmdline(cmdline: str, entry: str) -> bool:
        line = cmdline.strip()
        if line.startswith('"'):
            exe, _, rest = line[1:].partition('"')
        else:
            exe, _, rest = line.partition(" ")
        return "python" in ntpath.basename(exe).lower() and entry.lower() in rest.lower()

    def terminate(self, pid: int, force: bool) -> bool:
        """taskkill; False when refused (a window-less app only stops with /F)."""
        # /T: a venv's pythonw.exe is a launcher whose child runs the app.
        argv = [ntpath.join(self.system32, "taskkill.exe"), "/PID", str(pid), "/T"]
        return subprocess.run(  # nosec B603 # absolute taskkill path, numeric pid
            argv + (["/F"] if force else []), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
            creationflags=self.CREATE_NO_WINDOW).returncode == 0

    def try_lock(self, fd: int) -> bool:
        import msvcrt
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True


def local_platform() -> Any:
    return WindowsPlatform() if os.name == "nt" else PosixPlatform()


# ---------------------------------------------------------------- files

@contextlib.contextmanager
def atomic_file(path: str, tmp: str) -> Any:
    """Write ``tmp``, flush it to disk, then rename it: a reader sees the old or the new file."""
    with open(tmp, "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_atomic(path: str, data: bytes) -> None:
    with atomic_file(path, "%s.%d.tmp" % (path, os.getpid())) as handle:
        handle.write(data)


class State:
    """JSON records in the state folder."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def read(self, name: str) -> Dict[str, Any]:
        try:
            with open(self.path(name), encoding="utf-8") as handle:
                value = json.load(handle)
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def write(self, name: str, value: Dict[str, Any]) -> None:
        write_atomic(self.path(name), json.dumps(value, indent=1).encode("utf-8"))

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path(name))


def file_hash(path: str) -> str:
    """sha256 of a file's bytes; "" when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return ""


def keep_newest(folder: str, pattern: str, keep: int, spare: Iterable[str] = ()) -> List[str]:
    """Delete all but the ``keep`` newest files (names sort by time) matching ``pattern``."""
    try:
        names = sorted(n for n in os.listdir(folder) if re.fullmatch(pattern, n))
    except FileNotFoundError:
        return []
    doomed = [os.path.join(folder, n) for n in names[:-keep]]
    doomed = [path for path in doomed if path not in set(spare)]
    for path in doomed:
        with contextlib.suppress(OSError):
            os.remove(path)
    return doomed


def make_backup(app_dir: str, dest: str, manifest: Dict[str, Any], skip: Iterable[str]) -> str:
    """Zip the work tree without .git, venvs, caches and ``skip`` folders; return its path."""
    skip = {os.path.normcase(os.path.normpath(path)) for path in skip}
    with atomic_file(dest, dest + ".partial") as handle, zipfile.ZipFile(
            handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1, strict_timestamps=False) as archive:
        for folder, dirs, files in os.walk(app_dir):
            dirs[:] = sorted(
                d for d in dirs
                if d != ".git" and d not in CACHE_DIRS
                and os.path.normcase(os.path.join(folder, d)) not in skip
                and not os.path.isfile(os.path.join(folder, d, "pyvenv.cfg")))
            for name in sorted(files):
                path = os.path.join(folder, name)
                if not name.endswith((".pyc", ".pyo")) and os.path.isfile(path):
                    archive.write(path, os.path.relpath(path, app_dir))
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
    return dest


def _safe_member(name: str) -> bool:
    return not (name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", name) or ":" in name)


def restore_from_backup(backup: str, app_dir: str, paths: Optional[List[str]] = None) -> int:
    """Put files back from a backup: ``paths`` only (deleting those it lacks) or all."""
    with zipfile.ZipFile(backup) as archive:
        members = {m for m in archive.namelist() if m != MANIFEST and _safe_member(m)}
        wanted = members if paths is None else set(paths)
        for rel in sorted(wanted):
            target = os.path.join(app_dir, rel)
            if rel in members:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                write_atomic(target, archive.read(rel))
            elif os.path.isfile(target) or os.path.islink(target):
                os.remove(target)  # it did not exist in the backed-up version
    return len(wanted)


# ---------------------------------------------------------------- health

def http_status(url: str, timeout: float) -> Optional[int]:
    """The HTTP status of a GET (redirects followed), or None when nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=timeout) as response:  # nosec B310 # http(s) checked
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, http.client.HTTPException, OSError):
        return None


# ---------------------------------------------------------------- the deploy

def poll(done: Callable[[], bool], timeout: float, delay: float, cap: float) -> bool:
    """Call ``done`` until it is true (True) or ``timeout`` passes (False), backing off."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(delay, left))
        delay = min(delay * 2, cap)
    return True


def short(sha: Optional[str]) -> str:
    return sha[:12] if sha else "none"


class Deploy:
    """One deploy run: steps, journal and rollback."""

    def __init__(self, params: Dict[str, Any], plat: Any, rep: Reporter) -> None:
        self.p = params
        self.plat = plat
        self.rep = rep
        self.app_dir = os.path.normpath(params["app_dir"])
        self.state = State(self.app_dir + ".deploy")
        self.venv = os.path.normpath(os.path.join(self.app_dir, params["venv_dir"] or ".venv"))
        self.backup_dir = params["backup_dir"] or self.app_dir + "-backups"
        self.entry = os.path.join(self.app_dir, os.path.normpath(params["entry"]))
        self.requirements = os.path.join(self.app_dir, params["requirements_file"])
        self.app_log = self.state.path(os.path.join("logs", "app.log"))
        self.lock_handle: Any = None
        self.prior_journal: Dict[str, Any] = {}
        self.journal_record: Dict[str, Any] = {}
        self.previous_sha: Optional[str] = None
        self.head: Optional[str] = None  # HEAD before sync
        self.old_pid: Optional[int] = None
        self.backup_path: Optional[str] = None
        self.carried = False  # recovering from a killed deploy that changed the tree
        self.discarded: List[str] = []
        self.proc: Optional[subprocess.Popen] = None
        self.app_log_offset = 0
        self.health_status: Optional[int] = None
        self.health = "not_checked"
        self.python_version = "%d.%d.%d" % sys.version_info[:3]
        self.git_exe = shutil.which("git") or "git"

    # -- plumbing

    def sh(self, argv: List[str], cwd: Optional[str] = None, env: Optional[Dict[str, str]] = None,
           timeout: float = GIT_TIMEOUT, quiet: bool = False) -> Ran:
        """Run a command to completion; its output goes to the log (unless quiet)."""
        self.rep.log("$ " + " ".join(argv))
        try:
            done = subprocess.run(  # nosec B603 # argv lists built by this module, no shell
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StepError("%s did not finish within %ds" % (os.path.basename(argv[0]), timeout))
        except OSError as exc:
            raise StepError("cannot run %s: %s" % (argv[0], exc))
        ran = Ran(done.returncode, done.stdout.decode("utf-8", "replace"),
                  done.stderr.decode("utf-8", "replace"))
        if not quiet:
            self.rep.log(ran.out + ran.err)
        self.rep.log("exit %d" % ran.code)
        return ran

    def git(self, *args: str, quiet: bool = False, check: bool = True) -> Ran:
        ran = self.sh([self.git_exe, "-c", "safe.directory=*", "-C", self.app_dir] + list(args),
                      quiet=quiet, env=dict(os.environ, GIT_TERMINAL_PROMPT="0",
                                            GCM_INTERACTIVE="never"))
        if check and ran.code:
            raise StepError("git %s failed (exit %d): %s" % (
                args[0], ran.code, " ".join(tail(ran.err, 2)) or "no message"))
        return ran

    def git_head(self) -> Optional[str]:
        if not os.path.exists(os.path.join(self.app_dir, ".git")):
            return None
        ran = self.git("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
        return ran.out.strip() or None

    def has_commit(self, sha: str) -> bool:
        return self.git("cat-file", "-e", sha + "^{commit}", check=False, quiet=True).code == 0

    def running_app(self) -> Dict[str, Any]:
        """app.json when its pid is alive, else {}."""
        app = self.state.read("app.json")
        return app if isinstance(app.get("pid"), int) and self.plat.alive(app["pid"]) else {}

    def journal(self, **fields: Any) -> None:
        self.journal_record.update(fields)
        self.state.write("journal.json", self.journal_record)

    def step(self, name: str, action: Callable[[], str]) -> None:
        """Run one step: journal its phase, time it, print its line."""
        if self.lock_handle is not None:  # the journal is ours only while we hold the lock
            self.journal(phase=name)
        self.rep.log("--- " + name)
        started = time.monotonic()
        try:
            detail = action()
        except StepError as exc:
            self.rep.step_line(name, False, time.monotonic() - started, str(exc))
            raise
        except Exception as exc:  # a bug or an OS error: still report, roll back
            self.rep.log(traceback.format_exc())
            message = "%s: %s" % (type(exc).__name__, exc)
            self.rep.step_line(name, False, time.monotonic() - started, message)
            raise StepError(message)
        self.rep.step_line(name, True, time.monotonic() - started, detail)

    def app_environment(self, sha: Optional[str]) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.p["app_env"])
        env.update(DEPLOY_ID=self.p["deploy_id"], DEPLOY_SHA=sha or "",
                   DEPLOY_PREVIOUS_SHA=self.previous_sha or "", DEPLOY_APP_DIR=self.app_dir,
                   DEPLOY_VENV=self.venv, PYTHONUNBUFFERED="1")
        return env

    # -- the run

    def run(self) -> int:
        os.makedirs(self.state.path("logs"), exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        self.rep.open_log(self.state.path(os.path.join(
            "logs", "%s-%s.log" % (stamp, self.p["deploy_id"]))))
        self.rep.say("deploy %s: %s%s -> %s" % (
            self.p["deploy_id"], short(self.p["sha"]),
            " (%s)" % self.p["branch"] if self.p["branch"] else "", self.app_dir))
        try:
            self.step("lock", self.take_lock)
        except Busy as exc:
            return self.finish("busy", EXIT_BUSY, str(exc))
        except StepError as exc:
            return self.finish("failed", EXIT_FAILED, "lock: %s" % exc)
        try:
            code = self.deploy()
        finally:
            self.release_lock()
        return code

    def deploy(self) -> int:
        sha = self.p["sha"]
        actions = {
            "record": self.record, "backup": self.backup, "sync": self.sync, "deps": self.deps,
            "pre-stop": lambda: self.hooks("pre-stop", sha), "stop": self.stop,
            "start": lambda: self.start(sha), "verify": self.verify_started,
            "post-start": lambda: self.hooks("post-start", sha),
        }
        failed_step = ""
        try:
            for name in STEPS[1:]:
                failed_step = name
                self.step(name, actions[name])
        except StepError as exc:
            return self.fail(failed_step, exc)
        self.state.write("last-good.json", {
            "sha": sha, "deploy_id": self.p["deploy_id"], "time": utc_now(),
            "backup_path": self.backup_path})
        self.git("update-ref", "refs/deploy/last-good", sha, check=False)
        return self.finish("success", EXIT_OK)

    def fail(self, step: str, exc: StepError) -> int:
        error = "%s: %s" % (step, exc)
        if not self.journal_record.get("dirty"):
            return self.finish("failed", EXIT_FAILED, error + " (nothing was changed)")
        if not self.p["rollback"]:
            return self.finish("failed", EXIT_FAILED, error + " (rollback is off)")
        if self.previous_sha is None:
            return self.finish("failed", EXIT_FAILED, error + " (no previous version to restore)")
        self.rep.say("rolling back to %s" % short(self.previous_sha))
        try:
            self.roll_back()
        except StepError as rb_exc:
            return self.finish("failed", EXIT_FAILED, "%s; rollback failed: %s" % (error, rb_exc))
        return self.finish("rolled_back", EXIT_ROLLED_BACK, error)

    def finish(self, status: str, code: int, error: Optional[str] = None) -> int:
        running: Dict[str, Any] = {}
        if self.lock_handle is not None:
            running = self.running_app()
            self.state.remove("journal.json")
            keep_newest(self.state.path("logs"), r".+Z-.+\.log", LOGS_KEPT,
                        spare=[self.rep.log_path or ""])
        self.rep.say("result: %s%s" % (status, ": " + error if error else ""))
        self.rep.result(result_object(
            status, error, deploy_id=self.p["deploy_id"], target_sha=self.p["sha"],
            previous_sha=self.previous_sha, running_sha=running.get("sha"),
            backup_path=self.backup_path, health_status=self.health_status, health=self.health,
            pid=running.get("pid"), steps=self.rep.steps, log_file=self.rep.log_path,
            discarded_changes=cap_list(self.discarded, 50), python=self.python_version))
        return code

    # -- steps

    def take_lock(self) -> str:
        self.lock_handle = open(self.state.path("deploy.lock"), "a+b")
        if not self.plat.try_lock(self.lock_handle.fileno()):
            owner = self.state.read("lock-owner.json")
            self.lock_handle.close()
            self.lock_handle = None
            raise Busy("another deploy (%s, pid %s, since %s) is running for this app: wait "
                       "for it to finish, then retry" % (owner.get("deploy_id", "?"),
                                                         owner.get("pid", "?"),
                                                         owner.get("since", "?")))
        for name in os.listdir(self.state.root):  # half-written by a killed agent
            if name.endswith(".tmp"):
                os.remove(self.state.path(name))
        stale = self.state.read("lock-owner.json")
        self.state.write("lock-owner.json", {"pid": os.getpid(), "since": utc_now(),
                                             "deploy_id": self.p["deploy_id"]})
        self.prior_journal = self.state.read("journal.json")
        self.journal_record = {"deploy_id": self.p["deploy_id"], "pid": os.getpid(),
                               "target_sha": self.p["sha"], "started": utc_now()}
        if stale:
            return "took over a stale lock: deploy %s (pid %s) is gone" % (
                stale.get("deploy_id"), stale.get("pid"))
        return "acquired"

    def release_lock(self) -> None:
        self.state.remove("lock-owner.json")
        self.lock_handle.close()
        self.lock_handle = None

    def record(self) -> str:
        last_good = self.state.read("last-good.json")
        app = self.running_app()
        self.old_pid = app.get("pid")
        prior = self.prior_journal
        completed = (last_good.get("deploy_id") == prior.get("deploy_id")
                     and last_good.get("sha") == prior.get("target_sha"))
        notes = []
        self.carried = bool(prior.get("dirty")) and not completed
        self.head = self.git_head()
        if self.carried:
            # A killed deploy left the tree half-changed: its "previous" is still ours.
            self.previous_sha = prior.get("previous_sha")
            backup = prior.get("backup_path")
            self.backup_path = backup if backup and os.path.isfile(backup) else None
            self.discarded = list(prior.get("discarded") or [])
            notes.append("deploy %s was interrupted during %s: recovering" % (
                prior.get("deploy_id"), prior.get("phase")))
        else:
            self.previous_sha = last_good.get("sha") or self.head
        self.journal(previous_sha=self.previous_sha, backup_path=self.backup_path,
                     discarded=self.discarded, dirty=self.carried)
        running = ("running %s pid %d" % (short(app.get("sha")), self.old_pid)
                   if self.old_pid else "no app process recorded")
        return "; ".join(["previous %s, %s" % (short(self.previous_sha), running)] + notes)

    def backup(self) -> str:
        if self.backup_path:
            return "reusing %s (made before the interrupted deploy)" % self.backup_path
        if not os.path.isdir(self.app_dir) or not os.listdir(self.app_dir):
            return "nothing to back up (no app files yet)"
        os.makedirs(self.backup_dir, exist_ok=True)
        name = os.path.basename(self.app_dir)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = os.path.join(self.backup_dir, "%s-%s-%s.zip" % (name, stamp, self.p["deploy_id"]))
        for leftover in os.listdir(self.backup_dir):  # from a killed backup
            if leftover.endswith(".partial"):
                os.remove(os.path.join(self.backup_dir, leftover))
        make_backup(self.app_dir, path, {
            "app_dir": self.app_dir, "head": self.head, "previous_sha": self.previous_sha,
            "deploy_id": self.p["deploy_id"], "created": utc_now(),
            "excluded": [".git", "virtual environments", "caches"]},
            skip=[self.venv, self.backup_dir, self.state.root])
        self.backup_path = path
        self.journal(backup_path=path)
        pruned = keep_newest(self.backup_dir, re.escape(name) + r"-\d{8}T\d{6}Z-.+\.zip",
                             self.p["backup_retention"], spare=[path])
        return "%s (%.1f MB%s)" % (path, os.path.getsize(path) / 1e6,
                                   ", %d old pruned" % len(pruned) if pruned else "")

    def sync(self) -> str:
        sha = self.p["sha"]
        self.ensure_repo()
        for lock in ("index.lock", "HEAD.lock"):  # left by a git killed with the agent
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(self.app_dir, ".git", lock))
                self.rep.log("removed a stale .git/" + lock)
        fetched = self.fetch(sha)
        if not self.carried and self.head:
            self.discarded = self.local_changes(sha)
        # From here on the work tree may differ from the backup: a failure rolls back.
        self.journal(discarded=self.discarded, dirty=True)
        self.checkout(sha)
        notes = ["HEAD %s" % short(sha), fetched]
        if self.discarded:
            notes.append("discarded %d local change(s): %s" % (
                len(self.discarded), ", ".join(cap_list(self.discarded, 5))))
        return "; ".join(n for n in notes if n)

    def ensure_repo(self) -> None:
        if os.path.exists(os.path.join(self.app_dir, ".git")):
            return
        if os.path.isdir(self.app_dir) and os.listdir(self.app_dir):
            raise StepError("%s exists but is not a git clone: clone the repository there, "
                            "or use an empty folder" % self.app_dir)
        if not self.p["git_remote"]:
            raise StepError("%s is not a git clone and git_remote is empty: set git_remote"
                            % self.app_dir)
        os.makedirs(self.app_dir, exist_ok=True)
        self.git("init", "-q")

    def fetch(self, sha: str) -> str:
        if self.has_commit(sha):
            return "commit already present"
        remote = self.p["git_remote"] or "origin"
        branch = self.p["branch"]
        ran = self.git("fetch", "-q", "--no-tags", remote, *([branch] if branch else []),
                       check=False)
        if not self.has_commit(sha):  # not on the branch head: ask for the commit itself
            ran = self.git("fetch", "-q", "--no-tags", remote, sha, check=False)
        if not self.has_commit(sha):
            raise StepError("commit %s is not in %s%s: push it, or check sha and branch (git: "
                            "%s)" % (sha, remote, " branch " + branch if branch else "",
                                     " ".join(tail(ran.err, 2)) or "no message"))
        return "fetched from %s" % remote

    def local_changes(self, sha: str) -> List[str]:
        """Tracked files changed on the server, and untracked ones the commit overwrites."""
        fields = self.git("status", "--porcelain", "-z", "--untracked-files=no",
                          quiet=True).out.split("\0")
        changed = set()
        index = 0
        while index < len(fields):
            entry = fields[index]
            if len(entry) > 3:
                changed.add(entry[3:])
                if entry[0] in "RC":  # a rename carries its source in the next field
                    index += 1
                    changed.add(fields[index])
            index += 1
        target = set(self.git("ls-tree", "-r", "-z", "--name-only", sha,
                              quiet=True).out.split("\0"))
        tracked = set(self.git("ls-files", "-z", quiet=True).out.split("\0"))
        changed.update(p for p in target - tracked
                       if p and os.path.lexists(os.path.join(self.app_dir, p)))
        return sorted(changed)

    def checkout(self, sha: str) -> None:
        branch = self.p["branch"]
        self.git("checkout", "-f", "-q", *(["-B", branch] if branch else ["--detach"]), sha)
        head = self.git_head()
        if head != sha:
            raise StepError("HEAD is %s after checkout, not %s" % (short(head), short(sha)))

    def installer(self) -> Optional[str]:
        """uv's path when uv installs, None for pip."""
        uv = shutil.which("uv") if self.p["installer"] in ("auto", "uv") else None
        if self.p["installer"] == "uv" and not uv:
            raise StepError("installer is uv but uv is not on PATH: install uv or use pip")
        return uv

    def deps(self, digest: Optional[str] = None) -> str:
        uv = self.installer()
        venv = self.ensure_venv(uv)
        return "%s; %s" % (venv, self.install_requirements(
            uv, file_hash(self.requirements) if digest is None else digest))

    def install_requirements(self, uv: Optional[str], digest: str) -> str:
        """Install the requirements file (if any), recording its hash once installed."""
        self.state.write("deps.json", {"hash": None})  # half-installed until it succeeds
        if digest:
            self.install(self.requirements, uv)
        self.state.write("deps.json", {"hash": digest})
        name = self.p["requirements_file"]
        return "%s install -r %s" % ("uv" if uv else "pip", name) if digest else "no " + name

    def python_of(self, python: str) -> Optional[str]:
        ran = self.sh([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                      timeout=60)
        return ran.out.strip() if ran.code == 0 else None

    def ensure_venv(self, uv: Optional[str]) -> str:
        """Create the venv when missing, broken or made by another Python."""
        base = self.p["python"] or sys.executable
        wanted = self.python_of(base) if self.p["python"] else self.python_version
        if not wanted:
            raise StepError("python %r does not run: fix the python parameter" % base)
        venv_python = self.plat.venv_python(self.venv)
        if os.path.isfile(venv_python) and self.python_of(venv_python) == wanted:
            self.python_version = wanted
            return "venv ok"
        if os.path.isdir(self.venv):
            if os.listdir(self.venv) and not os.path.isfile(os.path.join(self.venv, "pyvenv.cfg")):
                raise StepError("venv_dir %s is not a virtual environment: remove it or set "
                                "venv_dir" % self.venv)
            shutil.rmtree(self.venv)  # broken, half-made or from another Python
        argv = [uv, "venv", "-q", "--python", base, self.venv] if uv else [
            base, "-m", "venv", self.venv]
        ran = self.sh(argv, timeout=INSTALL_TIMEOUT)
        if ran.code:
            raise StepError("creating the venv %s failed: %s" % (
                self.venv, " ".join(tail(ran.err or ran.out, 2))))
        self.python_version = wanted
        return "venv created (python %s)" % wanted

    def install(self, requirements: str, uv: Optional[str]) -> None:
        venv_python = self.plat.venv_python(self.venv)
        if uv:
            argv = [uv, "pip", "install", "--python", venv_python, "--upgrade", "-r", requirements]
        else:
            argv = [venv_python, "-m", "pip", "install", "--disable-pip-version-check",
                    "--no-input", "--upgrade", "-r", requirements]
        ran = self.sh(argv, cwd=self.app_dir, timeout=INSTALL_TIMEOUT)
        if not uv and ran.code and "No module named pip" in ran.err:  # a venv made by uv
            self.sh([venv_python, "-m", "ensurepip", "--upgrade"], timeout=INSTALL_TIMEOUT)
            ran = self.sh(argv, cwd=self.app_dir, timeout=INSTALL_TIMEOUT)
        if ran.code:
            lines = self.rep.say_tail(ran.err + "\n" + ran.out, 8)
            raise StepError("installing %s failed (exit %d): %s; fix the requirements (full "
                            "output in the log file)" % (self.p["requirements_file"], ran.code,
                                                         lines[-1] if lines else "no message"))

    def hooks(self, phase: str, sha: Optional[str]) -> str:
        folder = os.path.join(self.app_dir, self.p["hooks_dir"])
        found = [os.path.join(folder, phase + suffix) for suffix in self.plat.hook_suffixes
                 if os.path.isfile(os.path.join(folder, phase + suffix))]
        for hook in found:
            rel = os.path.relpath(hook, self.app_dir)
            ran = self.sh(self.plat.hook_argv(hook, self.plat.venv_python(self.venv)),
                          cwd=self.app_dir, env=dict(self.app_environment(sha), DEPLOY_PHASE=phase),
                          timeout=HOOK_TIMEOUT)
            if ran.code:
                self.rep.say_tail(ran.out + "\n" + ran.err, 5)
                raise StepError("hook %s failed (exit %d)%s: fix or remove the hook" % (
                    rel, ran.code, "; the app was not touched" if phase == "pre-stop" else ""))
        return "ran " + ", ".join(os.path.basename(h) for h in found) if found else "no hook"

    def stop(self) -> str:
        """Stop every process running our entry script (the PID file's and any orphan)."""
        pids = self.plat.find_app_pids(self.entry)
        recorded = self.running_app().get("pid")
        note = ""
        if recorded is not None and recorded not in pids:
            note = "; pid %d in the PID file is not our app: left alone" % recorded
        if not pids:
            self.state.remove("app.json")
            return "no running app" + note
        delivered = [self.plat.terminate(pid, force=False) for pid in pids]
        # Wait for a graceful exit only when every stop request was delivered.
        left = self.wait_gone(pids, self.p["stop_timeout"] if all(delivered) else 0)
        if left:
            for pid in left:
                self.plat.terminate(pid, force=True)
            if self.wait_gone(left, 10):
                raise StepError("pid(s) %s would not stop: end them by hand" % left)
        self.state.remove("app.json")
        return "stopped pid %s%s%s" % (", ".join(map(str, pids)),
                                       " (forced)" if left else "", note)

    def wait_gone(self, pids: List[int], timeout: float) -> List[int]:
        """The pids still alive after ``timeout`` (polled, returns as soon as all are gone)."""
        left = pids

        def gone() -> bool:
            nonlocal left
            left = [pid for pid in left if self.plat.alive(pid)]
            return not left

        poll(gone, timeout, 0.005, 0.2)
        return left

    def start(self, sha: str) -> str:
        if not os.path.isfile(self.entry):
            raise StepError("entry script %s is not in commit %s: fix the entry parameter" % (
                self.p["entry"], short(sha)))
        app_log = self.app_log
        with contextlib.suppress(OSError):  # on Windows a running app may still hold it
            if os.path.getsize(app_log) > APP_LOG_ROTATE_BYTES:
                os.replace(app_log, app_log + ".1")
        with open(app_log, "ab") as out:
            out.write(("=== %s deploy %s starts %s\n" % (
                utc_now(), self.p["deploy_id"], short(sha))).encode("utf-8"))
            out.flush()
            self.app_log_offset = out.tell()
            argv = [self.plat.app_python(self.venv), self.entry]
            self.rep.log("$ " + " ".join(argv))
            self.proc, note = self.plat.start(argv, self.app_dir, self.app_environment(sha), out)
        self.state.write("app.json", {"pid": self.proc.pid, "sha": sha, "argv": argv,
                                      "deploy_id": self.p["deploy_id"], "started": utc_now()})
        return "pid %d: %s%s" % (self.proc.pid, " ".join(argv), note)

    def verify_started(self) -> str:
        proc = self.proc
        assert proc is not None  # nosec B101 # start ran before verify
        return self.verify(lambda: proc.poll() is None, proc.pid, self.p["start_grace"])

    def verify(self, alive: Callable[[], bool], pid: int, grace: float) -> str:
        """Alive through the grace, then a 2xx from the health URL (polled with backoff)."""
        poll(lambda: not alive(), grace, 0.05, 0.05)
        if not alive():
            raise StepError(self.app_died(pid))
        url = self.p["health_url"]
        if not url:
            return "pid %d alive after %gs (no health URL)" % (pid, grace)
        self.health = "unhealthy"
        timeout = self.p["health_timeout"]
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            self.health_status = http_status(url, max(0.5, min(5.0, deadline - time.monotonic())))
            if self.health_status is not None and 200 <= self.health_status < 300:
                self.health = "healthy"
                return "pid %d: %s answered %d" % (pid, url, self.health_status)
            if not alive():
                raise StepError(self.app_died(pid))
            if time.monotonic() >= deadline:
                raise StepError("%s answered %s for %gs: check the app log" % (
                    url, self.health_status or "nothing", timeout))
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 2.0)

    def app_died(self, pid: int) -> str:
        code = self.proc.returncode if self.proc and self.proc.pid == pid else None
        text = ""
        with contextlib.suppress(OSError):
            with open(self.app_log, "rb") as handle:
                handle.seek(self.app_log_offset)
                text = handle.read().decode("utf-8", "replace")
        lines = self.rep.say_tail(text, 8, "    app: ")
        return "the app (pid %d) exited%s; last output: %s" % (
            pid, " with code %d" % code if code is not None else "",
            lines[-1] if lines else "none")

    # -- rollback

    def roll_back(self) -> None:
        """Previous commit and files, its requirements, its process, its health."""
        previous = self.previous_sha
        assert previous is not None  # nosec B101 # fail() checks it
        keep_old = (self.proc is None and self.old_pid is not None
                    and self.old_pid in self.plat.find_app_pids(self.entry))
        if not keep_old:
            self.step("rollback-stop", self.stop)
        self.step("rollback-sync", lambda: self.restore_files(previous))
        self.step("rollback-deps", self.restore_deps)
        if keep_old:
            old_pid = self.old_pid
            assert old_pid is not None  # nosec B101 # keep_old implies it
            self.step("rollback-verify", lambda: "the previous app kept running; " + self.verify(
                lambda: self.plat.alive(old_pid), old_pid, 0))
        else:
            self.step("rollback-start", lambda: self.start(previous))
            self.step("rollback-verify", self.verify_started)

    def restore_files(self, sha: str) -> str:
        try:
            self.checkout(sha)
            note = "HEAD %s" % short(sha)
        except StepError as exc:
            if not self.backup_path:
                raise
            restore_from_backup(self.backup_path, self.app_dir)
            return "git failed (%s): restored every file from %s" % (exc, self.backup_path)
        if self.backup_path and self.discarded:
            restore_from_backup(self.backup_path, self.app_dir, self.discarded)
            note += "; %d local change(s) restored from the backup" % len(self.discarded)
        return note

    def restore_deps(self) -> str:
        """Reinstall only when the restored requirements differ from what is installed."""
        digest = file_hash(self.requirements)
        if digest == self.state.read("deps.json").get("hash"):
            return "requirements unchanged"
        return self.deps(digest)


def result_object(status: str, error: Optional[str], **fields: Any) -> Dict[str, Any]:
    """The result line's object: every key present, unknown ones null."""
    result: Dict[str, Any] = dict.fromkeys((
        "deploy_id", "target_sha", "previous_sha", "running_sha", "backup_path",
        "health_status", "pid", "log_file", "python"))
    result.update(status=status, error=error[:600] if error else None, health="not_checked",
                  rolled_back=status == "rolled_back", steps=[], discarded_changes=[])
    result.update(fields)
    return result


def cap_list(items: List[str], limit: int) -> List[str]:
    """At most ``limit`` entries, the last one saying how many were left out."""
    if len(items) <= limit:
        return list(items)
    return list(items[:limit - 1]) + ["... and %d more (see the log file)" % (
        len(items) - limit + 1)]


def main(argv: Optional[List[str]] = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):  # a Windows code page must not crash a deploy
        sys.stdout.reconfigure(errors="backslashreplace")
    plat = local_platform()
    rep = Reporter(Redactor())
    try:
        params = load_params(sys.argv[1:] if argv is None else argv, plat.name)
    except ParamError as exc:
        rep.say("invalid parameters: %s" % exc)
        rep.result(result_object("invalid", str(exc), python="%d.%d.%d" % sys.version_info[:3]))
        return EXIT_BAD_PARAMS
    rep.redact = Redactor(params["app_env"].values())
    deploy = Deploy(params, plat, rep)
    try:
        return deploy.run()
    except Exception as exc:  # never end without a result line
        rep.log(traceback.format_exc())
        return deploy.finish("failed", EXIT_FAILED, "agent error: %s: %s" % (
            type(exc).__name__, exc))
    finally:
        rep.close()


if __name__ == "__main__":
    sys.exit(main())
