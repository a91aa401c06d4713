"""Running a gate's tools: captured output, a deadline per gate, kill on timeout; as the
sandbox's user, without the action's secrets (sandbox.py says why and when)."""

from __future__ import annotations

import os
import re
import shlex
import signal
# The gates run tools, never through a shell
import subprocess  # nosec B404
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ssm_action.gates import isolation, sandbox
from ssm_action.gates.sandbox import Sandbox


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


PYTEST_PROGRESS = re.compile(r"^\S.*? ([.FEsxX]+)\s*\[\s*(\d+)%\]$")  # tests/test_a.py ..F.  [ 40%]


def _drain(stream: object, into: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.append(line)


class GateLog:
    """One gate's log, deadline and time spent in tools; the running tool's output so far."""

    def __init__(self, timeout: float, sandbox: Sandbox | None = None):
        self.sandbox = sandbox  # the user the tools run as; None: the action's own
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.parts: list[str] = []
        self.tool_seconds = 0.0
        self.started = time.monotonic()
        self._live: list[str] = []  # stdout lines of the tool running now

    def progress(self) -> str:
        """For a heartbeat: how far pytest is, from its progress lines (else '')."""
        done, percent = 0, ""
        for line in list(self._live):
            match = PYTEST_PROGRESS.match(line.rstrip())
            if match:
                done, percent = done + len(match.group(1)), match.group(2)
        return f"{done} tests done ({percent}%)" if percent else ""

    def note(self, text: str) -> None:
        if text.strip():
            self.parts.append(text.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.parts)

    def read_report(self, path: Path) -> str:
        """A report this gate's tool wrote (raises OSError when it is missing or not the tool's)."""
        return sandbox.read_report(path, self.sandbox)

    def run(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
            log_stdout: bool = True, holds_secret: bool = False) -> subprocess.CompletedProcess[str]:
        """Run a tool to completion (or to the deadline); its output goes to the log
        (not stdout when it is a machine-readable report). Without env, it gets the action's
        environment without secrets. A tool given a secret (holds_secret) runs as the action's
        user, so the project's code, running as the sandbox's, cannot read it from /proc."""
        remaining = self.deadline - time.monotonic()
        if _stopped.is_set():
            raise GateTimeout("stopped: the run was cancelled")
        if remaining <= 0:
            raise GateTimeout(f"gate-timeout of {self.timeout:g} s reached")
        self.note("$ " + shlex.join(argv))
        started = time.monotonic()
        variables = dict(env) if env is not None else isolation.without_secrets(())
        as_user: dict[str, object] = {}
        if self.sandbox and not holds_secret:
            variables.update(self.sandbox.variables())
            as_user = self.sandbox.popen()
        try:
            # Argv list, no shell
            proc = subprocess.Popen(  # nosec B603
                list(argv), cwd=cwd, env=variables, text=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, errors="replace", **as_user,  # type: ignore[call-overload]
            )
        except FileNotFoundError as exc:
            raise ToolMissing(f"{Path(argv[0]).name} is not installed (looked for {argv[0]})") from exc
        with _live_lock:
            _live.add(proc)
            if _stopped.is_set():  # cancelled while it was starting
                _kill_group(proc)
        out_lines: list[str] = []
        err_lines: list[str] = []
        self._live = out_lines
        readers = [threading.Thread(target=_drain, args=(stream, lines), daemon=True)
                   for stream, lines in ((proc.stdout, out_lines), (proc.stderr, err_lines))]
        for reader in readers:
            reader.start()
        try:
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()
            self._finish(readers, out_lines, err_lines, started, log_stdout)
            raise GateTimeout(f"stopped after the gate-timeout of {self.timeout:g} s") from None
        finally:
            with _live_lock:
                _live.discard(proc)
        out, err = self._finish(readers, out_lines, err_lines, started, log_stdout)
        return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)

    def _finish(self, readers: list[threading.Thread], out_lines: list[str], err_lines: list[str],
                started: float, log_stdout: bool) -> tuple[str, str]:
        for reader in readers:  # the pipes close when the tool (and what it started) ends
            reader.join()
        self._live = []
        out, err = "".join(out_lines), "".join(err_lines)
        self._record(out, err, started, log_stdout)
        return out, err

    def _record(self, out: str, err: str, started: float, log_stdout: bool) -> None:
        self.tool_seconds += time.monotonic() - started
        if log_stdout:
            self.note(out)
        self.note(err)
