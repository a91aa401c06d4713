"""What the agent needs from the server's operating system, as one interface.

``PosixPlatform`` (posix.py) and ``WindowsPlatform`` (windows.py) implement it;
the rest of the agent never asks which one it has.
"""

from __future__ import annotations

import subprocess  # nosec B404 # only for the type of a started process
from typing import IO, Any, Dict, List, NamedTuple, Optional, Protocol, Tuple, Union

START_WARNING = "; WARNING: "  # a start note the user must hear of (AgentResult.warnings)


class AppMatch(NamedTuple):
    """How the app's processes are told from every other: never by a command's shape alone.

    A process is the app's when it runs the app's command exactly as started (its first word
    the venv's own interpreter or console script, a path no other app has), or that command
    under one of the venv's pythons (a console script's interpreter); with no ``argv``, when
    it runs any python of the venv (an older agent's PID file, which recorded no start time).
    A venv outside the app folder may be shared, so then the process must also work in
    ``folder`` (checked where the OS tells: /proc on Linux; on Windows such a process is
    recognised by its recorded pid and start time only).
    """

    argv: Tuple[str, ...]
    bin_dir: str  # the venv's bin (Scripts) folder
    folder: str  # "" when the venv is inside the app folder


def is_app(argv: List[str], match: AppMatch, path: Any) -> bool:
    """Whether a process's ``argv`` is the app's (``path``: the OS's path module)."""
    def norm(name: str) -> str:
        return str(path.normcase(path.normpath(name)))

    if not argv or not argv[0]:
        return False
    python = norm(path.dirname(argv[0])) == norm(match.bin_dir) and path.basename(argv[0]).lower().startswith(
        "python")
    want = list(match.argv)
    if not want:
        return python
    return norm(argv[0]) == norm(want[0]) and argv[1:] == want[1:] or python and argv[1:] == want


class Platform(Protocol):
    name: str  # the ``platform`` parameter this OS answers to: linux or windows
    hook_suffixes: Tuple[str, ...]  # hook file kinds, in the order they run
    # A running program's files cannot be deleted or replaced (Windows): the venv is remade
    # only after the stop.
    holds_running_files: bool
    # No stop signal reaches the app (a window-less Windows process): the graceful stop is
    # the stop-request file the app is told of in DEPLOY_STOP_FILE (docs/deployments.md).
    stops_by_request_file: bool

    def venv_python(self, venv: str) -> str:
        """The venv's python, for installs and Python hooks."""
        ...

    def app_python(self, venv: str) -> str:
        """The venv's python that runs the app."""
        ...

    def hook_argv(self, hook: str, python: str) -> Union[List[str], str]:
        """The hook's command: words, or (Windows' cmd.exe) a command line passed as it is."""
        ...

    def start(self, argv: List[str], cwd: str, env: Dict[str, str],
              out: IO[bytes]) -> Tuple[subprocess.Popen[bytes], str]:
        """Start the app detached from the agent, output to ``out``; a note for the step line
        (one starting with START_WARNING also reaches the runner as a warning)."""
        ...

    def alive(self, pid: int) -> bool:
        ...

    def find_app_pids(self, match: AppMatch) -> List[int]:
        """One pid per process of the app (``AppMatch``; the agent's own excluded; on Windows
        a launcher stands for itself and its children)."""
        ...

    def started(self, pid: int) -> Optional[int]:
        """When the process started (the OS's own clock): a pid with another start time is
        another process, which got the pid after ours ended."""
        ...

    def terminate(self, pid: int, force: bool) -> bool:
        """End the process (and its children), gracefully unless ``force``; False when that
        was not delivered."""
        ...

    def try_lock(self, fd: int) -> bool:
        """Take an exclusive OS lock on an open file without waiting."""
        ...
