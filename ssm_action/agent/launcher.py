"""The service host's start command: resolve the app's secrets again, then run the app.

A systemd unit or a scheduled task runs ``<agent python> <agent> --launch <spec>``
(phase 2 dispatches ``--launch`` to ``main`` here). The spec (JSON, written by the
agent, mode 600) holds the app's command, folder, plain environment and its
secret REFERENCES; values are fetched with the instance role at each start, so
no definition, file or backup ever holds one. The app's output goes to ``log``.

- POSIX: the launcher execs the app, so systemd's MainPID, stop and restart act on
  the app itself.
- Windows has no exec: the launcher stays the task's process and supervises the
  app, restarting it after a non-zero exit (Task Scheduler's RestartOnFailure only
  covers a task that fails to start). It exits when the app exits with 0. Secrets that
  cannot be read at a start are tried again with backoff: an exit would leave the app down.
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 # running the app is the launcher's job
import sys
import time
from typing import IO, Any, Callable, Dict, List, Mapping, Optional

from ssm_action.agent.aws import Aws
from ssm_action.contract.settings import SETTINGS
from ssm_action.agent.errors import StepError
from ssm_action.agent.files import write_atomic
from ssm_action.agent.output import utc_now
from ssm_action.agent.secrets import refs_from, resolve

EX_CONFIG = 78  # sysexits: the secrets could not be read (systemd retries after RestartSec)
EX_NOCMD = 127  # as a shell: the app's command cannot be run
CREATE_NO_WINDOW = 0x08000000
BACKOFF_CAP = 60.0  # seconds between restarts of a crashing app (Windows supervision)


class StartError(StepError):
    """The app's command could not be run at all."""

    @classmethod
    def of(cls, spec: Dict[str, Any], exc: OSError) -> "StartError":
        return cls("cannot start %s in %s: %s" % (spec["argv"][0], spec["cwd"], exc))


def make_spec(argv: List[str], cwd: str, env: Mapping[str, str], secrets: Mapping[str, str],
              log: str, pid_file: str = "",
              settings: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """The launch spec: ``secrets`` maps variable names to references, never to values.

    ``settings`` are the agent's own AWS endpoint and region variables (``aws.SETTINGS``),
    passed on so the launcher reaches AWS the way the agent did.
    """
    source = os.environ if settings is None else settings
    return {"argv": list(argv), "cwd": cwd, "env": dict(env), "secrets": dict(secrets),
            "log": log, "pid_file": pid_file,
            "aws": {k: source[k] for k in SETTINGS if source.get(k)}}


def write_spec(path: str, spec: Dict[str, Any], owner: Optional[int] = None) -> None:
    """Write the spec readable by the app's account only (it holds app_env values)."""
    write_atomic(path, json.dumps(spec, indent=1, sort_keys=True).encode("utf-8"))
    if os.name != "nt":
        os.chmod(path, 0o600)
        if owner is not None:
            os.chown(path, owner, -1)


def read_spec(path: str) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        spec = json.load(handle)
    if not isinstance(spec, dict) or not isinstance(spec.get("argv"), list) or not spec["argv"]:
        raise StepError("launch spec %s has no command" % path)
    return spec


def app_environment(spec: Dict[str, Any], base: Mapping[str, str]) -> Dict[str, str]:
    """The app's environment: the host's, the plain variables, the secrets just resolved."""
    refs = refs_from(spec.get("secrets") or {})
    values = resolve(refs, Aws({**base, **spec.get("aws", {})})) if refs else {}
    return {**base, **spec.get("env", {}), **values}


def readable_environment(spec: Dict[str, Any], base: Mapping[str, str], log: IO[bytes],
                         sleep: Callable[[float], None]) -> Dict[str, str]:
    """Windows: ``app_environment``, tried again with backoff while the secrets cannot be read.
    Exiting would leave the app down for good: Task Scheduler restarts only a task that fails
    to start, and at boot the network may come up after the task (systemd retries on POSIX)."""
    delay = 1.0
    while True:
        try:
            return app_environment(spec, base)
        except StepError as exc:  # names the secret and the IAM to allow, no value
            note(log, "cannot read the app's secrets, trying again in %ds: %s" % (delay, exc))
        sleep(delay)
        delay = min(delay * 2, BACKOFF_CAP)


def note(log: IO[bytes], text: str) -> None:
    log.write(("=== %s launcher: %s\n" % (utc_now(), text)).encode("utf-8"))
    log.flush()


def record_pid(spec: Dict[str, Any], pid: int, log: IO[bytes]) -> None:
    """The app's pid for the agent; a start never fails for it (systemd knows MainPID)."""
    if spec.get("pid_file"):
        try:
            write_atomic(spec["pid_file"], json.dumps({"pid": pid, "started": utc_now()}).encode())
        except OSError as exc:  # its folder is not writable by the app's account
            note(log, "cannot write the pid file: %s" % exc)


def exec_app(spec: Dict[str, Any], env: Dict[str, str], log: IO[bytes]) -> int:
    """POSIX: become the app, its output appended to the log."""
    note(log, "starting %s" % " ".join(spec["argv"]))
    record_pid(spec, os.getpid(), log)  # exec keeps the pid
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        os.chdir(spec["cwd"])
        os.execve(spec["argv"][0], spec["argv"], env)  # nosec B606 # the app's own command
    except OSError as exc:
        raise StartError.of(spec, exc)
    return 0  # not reached


def supervise(spec: Dict[str, Any], log: IO[bytes], base: Mapping[str, str],
              sleep: Callable[[float], None] = time.sleep, restarts: int = -1) -> int:
    """Windows (and tests): run the app, again after each failure, until it exits with 0;
    a start waits until the secrets can be read.

    ``restarts`` bounds the restarts (-1: no bound); the last exit code is returned.
    """
    delay, code = 1.0, 0
    while True:
        env = readable_environment(spec, base, log, sleep)  # secrets read again at each start
        note(log, "starting %s" % " ".join(spec["argv"]))
        flags = CREATE_NO_WINDOW if os.name == "nt" else 0
        try:
            child = subprocess.Popen(  # nosec B603 # the app's own command, no shell
                spec["argv"], cwd=spec["cwd"], env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, creationflags=flags)
        except OSError as exc:
            raise StartError.of(spec, exc)
        record_pid(spec, child.pid, log)
        started = time.monotonic()
        code = child.wait()
        note(log, "the app exited with code %d" % code)
        if code == 0 or restarts == 0:
            return code
        restarts -= 1
        delay = 1.0 if time.monotonic() - started > BACKOFF_CAP else min(delay * 2, BACKOFF_CAP)
        sleep(delay)


def main(argv: List[str]) -> int:
    """``--launch SPEC``: the service host's start command."""
    if len(argv) != 1:
        print("usage: --launch SPEC", file=sys.stderr)
        return 2
    spec = read_spec(argv[0])
    with open(spec["log"], "ab") as log:
        try:
            if os.name == "nt":
                return supervise(spec, log, dict(os.environ))
            return exec_app(spec, app_environment(spec, dict(os.environ)), log)
        except StartError as exc:  # the command is missing or not executable
            note(log, str(exc))  # (stderr is the log by now)
            return EX_NOCMD
        except StepError as exc:  # the message names the secret and the IAM to allow, no value
            note(log, "cannot start: %s" % exc)
            print("cannot start: %s" % exc, file=sys.stderr)
            return EX_CONFIG


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
