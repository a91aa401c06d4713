"""Windows: pythonw.exe detached and out of the SSM job, taskkill, PowerShell hooks."""

from __future__ import annotations

import ctypes
import json
import ntpath
import os
import subprocess  # nosec B404 # starting and stopping the app is this module's job
from typing import IO, Any, Dict, List, Optional, Tuple

from ssm_action.agent.errors import StepError
from ssm_action.agent.host import Platform
from ssm_action.agent.output import tail


class WindowsPlatform(Platform):
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
        proc = launch(self.START_FLAGS & ~self.CREATE_BREAKAWAY_FROM_JOB)  # inside the job
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

    def find_app_pids(self, words: List[str]) -> List[int]:
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
                      and self._is_app_cmdline(p.get("CommandLine") or "", words))

    @staticmethod
    def _is_app_cmdline(cmdline: str, words: List[str]) -> bool:
        line = cmdline.strip()
        if line.startswith('"'):
            exe, _, rest = line[1:].partition('"')
        else:
            exe, _, rest = line.partition(" ")
        rest = rest.lower()
        return "python" in ntpath.basename(exe).lower() and all(w.lower() in rest for w in words)

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
