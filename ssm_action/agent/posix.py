"""Linux (and any POSIX server): a new session, output to a file, signals to the group."""

from __future__ import annotations

import os
import signal
import subprocess  # nosec B404 # starting the app is this module's job
from typing import IO, Dict, List, Optional, Tuple, Union

from ssm_action.agent.host import AppMatch, Platform, is_app


class PosixPlatform(Platform):
    """Linux: a new session, output to a file, signals to the process group."""

    name = "linux"
    hook_suffixes = (".sh", ".py")
    holds_running_files = False
    stops_by_request_file = False  # SIGTERM

    def venv_python(self, venv: str) -> str:
        return os.path.join(venv, "bin", "python")

    def app_python(self, venv: str) -> str:
        return self.venv_python(venv)

    def hook_argv(self, hook: str, python: str) -> Union[List[str], str]:
        return ["/bin/sh", hook] if hook.endswith(".sh") else [python, hook]

    def start(self, argv: List[str], cwd: str, env: Dict[str, str],
              out: IO[bytes]) -> Tuple[subprocess.Popen[bytes], str]:
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

    def find_app_pids(self, match: AppMatch) -> List[int]:
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % name, "rb") as handle:
                    argv = handle.read().decode("utf-8", "replace").split("\0")
                if is_app(argv[:-1] if argv[-1:] == [""] else argv, match, os.path) and (
                        not match.folder or os.path.samefile("/proc/%s/cwd" % name, match.folder)):
                    pids.append(int(name))
            except OSError:
                continue
        return sorted(pids)

    def started(self, pid: int) -> Optional[int]:
        try:
            with open("/proc/%d/stat" % pid) as handle:
                return int(handle.read().rsplit(")", 1)[1].split()[19])  # starttime, in clock ticks
        except (OSError, IndexError, ValueError):
            return None

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
