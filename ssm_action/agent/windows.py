"""Windows: pythonw.exe detached and out of the SSM job, processes by the Windows API."""

from __future__ import annotations

import ctypes
import ntpath
import os
import subprocess  # nosec B404 # starting and stopping the app is this module's job
from typing import IO, Any, Dict, List, Optional, Tuple, Union

from ssm_action.agent.errors import StepError
from ssm_action.agent.host import START_WARNING, AppMatch, Platform, is_app

BREAKAWAY_REFUSED = (START_WARNING + "the SSM Agent's job object refused breakaway: the app stays in that "
                     "job and Windows will stop it when the SSM Agent stops or restarts (an agent "
                     "update restarts it); use app-host: service to keep it running")


def cmd_line(cmd: str, path: str) -> str:
    """The command line that has cmd.exe run the batch file ``path``, whatever its folder holds:
    quoted whole (``/s /c ""path""``), as outside quotes & | < > ^ ( ) end or change the command
    (list2cmdline quotes only spaces). /d: no AutoRun commands; /v:off: ! is plain text. cmd
    expands %VAR% even in quotes, with no escape: such a path is refused."""
    if "%" in path or '"' in path:
        raise StepError("%s cannot be run by cmd.exe: it would expand the %% in the path: rename the folder, or "
                        "use a .py hook" % path)
    return '"%s" /d /v:off /s /c ""%s""' % (cmd, path)


def split_command_line(line: str) -> List[str]:
    """A command line's words by the C runtime's rules (as ``subprocess.list2cmdline`` writes
    them): quotes group, 2n backslashes before a quote are n, 2n+1 escape it."""
    words: List[str] = []
    word, quoted, slashes, seen = "", False, 0, False
    for char in line + " ":
        if char == "\\":
            slashes += 1
            continue
        if char == '"':
            word += "\\" * (slashes // 2) + '"' * (slashes % 2)
            quoted ^= slashes % 2 == 0
            seen = True
        elif char in " \t" and not quoted:
            word += "\\" * slashes
            if word or seen:
                words.append(word)
            word, seen = "", False
        else:
            word += "\\" * slashes + char
        slashes = 0
    return words


class WindowsPlatform(Platform):
    """Windows: pythonw.exe detached and out of the SSM job, processes by the Windows API."""

    name = "windows"
    hook_suffixes = (".ps1", ".cmd", ".py")
    holds_running_files = True
    stops_by_request_file = True
    DETACHED_PROCESS = 0x00000008
    CREATE_NEW_PROCESS_GROUP = 0x00000200
    CREATE_BREAKAWAY_FROM_JOB = 0x01000000
    CREATE_NO_WINDOW = 0x08000000
    START_FLAGS = (DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_BREAKAWAY_FROM_JOB
                   | CREATE_NO_WINDOW)
    ERROR_ACCESS_DENIED = 5
    STILL_ACTIVE = 259
    PROCESS_QUERY_LIMITED_INFORMATION = 0x1000

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

    def hook_argv(self, hook: str, python: str) -> Union[List[str], str]:
        kind = ntpath.splitext(hook)[1].lower()
        if kind == ".ps1":
            return self.powershell() + ["-File", hook]
        if kind == ".cmd":
            return cmd_line(ntpath.join(self.system32, "cmd.exe"), hook)
        return [python, hook]

    def start(self, argv: List[str], cwd: str, env: Dict[str, str],
              out: IO[bytes]) -> Tuple[subprocess.Popen[bytes], str]:
        def launch(flags: int) -> subprocess.Popen[bytes]:
            return subprocess.Popen(  # nosec B603 # argv is [venv pythonw, entry script]
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, close_fds=True, creationflags=flags)

        try:
            return launch(self.START_FLAGS), ""
        except OSError as exc:
            if getattr(exc, "winerror", None) != self.ERROR_ACCESS_DENIED:
                raise
        # The SSM Agent's job has KILL_ON_JOB_CLOSE without BREAKAWAY_OK: the app is born in
        # it and Windows ends it when the job closes (seen under Wine: tests/windows/test_windows_job.py).
        proc = launch(self.START_FLAGS & ~self.CREATE_BREAKAWAY_FROM_JOB)
        return proc, BREAKAWAY_REFUSED

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

    def find_app_pids(self, match: AppMatch) -> List[int]:
        """From the Windows API (winproc.py): the app's processes, a launcher (the venv's
        pythonw.exe, a console script's .exe) and what it started counted once (its pid)."""
        from ssm_action.agent import winproc
        me = os.getpid()
        try:
            procs = winproc.snapshot()
        except OSError as exc:
            raise StepError("listing processes failed: %s" % exc)
        if me not in {p.pid for p in procs}:  # a real list always holds the agent itself
            raise StepError("the process list (%d entries) lacks the agent's own pid %d: "
                            "cannot tell whether the app runs" % (len(procs), me))
        found = {p.pid: p.parent for p in procs if p.pid != me and not match.folder  # no cwd read here
                 and is_app(split_command_line(winproc.command_line(p.pid) or ""), match, ntpath)}
        return sorted(pid for pid, parent in found.items() if parent not in found)

    def started(self, pid: int) -> Optional[int]:
        from ssm_action.agent import winproc
        return winproc.created(pid)

    def terminate(self, pid: int, force: bool) -> bool:
        """TerminateProcess on the process and its children (children first) when forced.
        Without ``force``: False, nothing is sent (no signal reaches a window-less app;
        the graceful stop is the stop-request file)."""
        if not force:
            return False
        from ssm_action.agent import winproc
        children: Dict[int, List[int]] = {}
        for proc in winproc.snapshot():
            if proc.pid != proc.parent:
                children.setdefault(proc.parent, []).append(proc.pid)
        tree, todo = [], [pid]
        while todo:
            each = todo.pop()
            tree.append(each)
            todo.extend(child for child in children.get(each, []) if child not in tree)
        return [winproc.terminate(each) for each in reversed(tree)][-1]

    def try_lock(self, fd: int) -> bool:
        import msvcrt
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
