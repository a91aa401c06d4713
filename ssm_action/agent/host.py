"""What the agent needs from the server's operating system, as one interface.

``PosixPlatform`` (posix.py) and ``WindowsPlatform`` (windows.py) implement it;
the rest of the agent never asks which one it has.
"""

from __future__ import annotations

import os
import subprocess  # nosec B404 # only for the type of a started process
from typing import IO, Dict, List, Protocol, Tuple

START_WARNING = "; WARNING: "  # a start note the user must hear of (AgentResult.warnings)


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

    def hook_argv(self, hook: str, python: str) -> List[str]:
        ...

    def start(self, argv: List[str], cwd: str, env: Dict[str, str],
              out: IO[bytes]) -> Tuple[subprocess.Popen[bytes], str]:
        """Start the app detached from the agent, output to ``out``; a note for the step line
        (one starting with START_WARNING also reaches the runner as a warning)."""
        ...

    def alive(self, pid: int) -> bool:
        ...

    def find_app_pids(self, words: List[str]) -> List[int]:
        """One pid per python process with the app's ``words`` in its arguments (the agent's
        own excluded; on Windows the venv launcher stands for itself and its child)."""
        ...

    def terminate(self, pid: int, force: bool) -> bool:
        """End the process (and its children), gracefully unless ``force``; False when that
        was not delivered."""
        ...

    def try_lock(self, fd: int) -> bool:
        """Take an exclusive OS lock on an open file without waiting."""
        ...


def local_platform() -> Platform:
    if os.name == "nt":
        from ssm_action.agent.windows import WindowsPlatform
        return WindowsPlatform()
    from ssm_action.agent.posix import PosixPlatform
    return PosixPlatform()
