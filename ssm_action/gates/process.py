"""Running a gate's tools: captured output, a deadline per gate, kill on timeout."""

from __future__ import annotations

import os
import shlex
import signal
# The gates run tools, never through a shell
import subprocess  # nosec B404
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class GateTimeout(Exception):
    """The gate ran past gate-timeout; its process group was killed."""


class ToolMissing(Exception):
    """A tool's executable does not exist."""


_live: set[subprocess.Popen[str]] = set()
_live_lock = threading.Lock()
_stopped = threading.Event()


def allow() -> None:
    """Let tools start (a new run)."""
    _stopped.clear()


def kill_all() -> None:
    """Stop every tool still running, and start no more (the run was cancelled)."""
    _stopped.set()
    with _live_lock:
        for proc in _live:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the tool and anything it started
    except ProcessLookupError:
        pass


class GateLog:
    """One gate's log, deadline and time spent in tools."""

    def __init__(self, timeout: float):
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.parts: list[str] = []
        self.tool_seconds = 0.0

    def note(self, text: str) -> None:
        if text.strip():
            self.parts.append(text.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.parts)

    def run(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
            log_stdout: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a tool to completion (or to the deadline); its output goes to the log
        (not stdout when it is a machine-readable report)."""
        remaining = self.deadline - time.monotonic()
        if _stopped.is_set():
            raise GateTimeout("stopped: the run was cancelled")
        if remaining <= 0:
            raise GateTimeout(f"gate-timeout of {self.timeout:g} s reached")
        self.note("$ " + shlex.join(argv))
        started = time.monotonic()
        try:
            # Argv list, no shell
            proc = subprocess.Popen(  # nosec B603
                list(argv), cwd=cwd, env=dict(env) if env is not None else None, text=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, errors="replace",
            )
        except FileNotFoundError as exc:
            raise ToolMissing(f"{Path(argv[0]).name} is not installed (looked for {argv[0]})") from exc
        with _live_lock:
            _live.add(proc)
            if _stopped.is_set():  # cancelled while it was starting
                _kill_group(proc)
        try:
            out, err = proc.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            self._record(out, err, started, log_stdout)
            raise GateTimeout(f"stopped after the gate-timeout of {self.timeout:g} s") from None
        finally:
            with _live_lock:
                _live.discard(proc)
        self._record(out, err, started, log_stdout)
        return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)

    def _record(self, out: str, err: str, started: float, log_stdout: bool) -> None:
        self.tool_seconds += time.monotonic() - started
        if log_stdout:
            self.note(out)
        self.note(err)
