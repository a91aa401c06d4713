"""Linux service host: the app as a systemd unit, operated through ``systemctl``.

The unit restarts the app after a crash (``Restart=on-failure``) and at boot
(``WantedBy=multi-user.target``). Its ExecStart is the launcher (see launcher.py),
so the unit holds no secret. Before a new definition is written, the one in
place is kept in ``keep_dir``; ``restore_previous`` puts it back in a rollback.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Callable, List, Optional

from ssm_action.agent.errors import StepError
from ssm_action.agent.files import keep_copy, write_atomic
from ssm_action.agent.shell import Ran

UNIT_DIR = "/etc/systemd/system"
SYSTEMCTL_TIMEOUT = 60
Runner = Callable[..., Ran]  # Shell.run: (argv, timeout=...) -> Ran
_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\$?")


def _one_line(value: str, what: str) -> str:
    if not value or any(c in value for c in "\n\r\0"):
        raise StepError("%s %r cannot go into a systemd unit" % (what, value))
    return value.replace("%", "%%")  # systemd expands %-specifiers


def quote(arg: str, first: bool = False) -> str:
    """One ExecStart word: % and $ doubled (systemd expands them), quoted when needed."""
    text = _one_line(arg, "app command argument").replace("$", "$$")
    if text == ";":  # a lone ; separates commands
        return "\\;"
    if _PLAIN.fullmatch(text) and not (first and text.startswith(("@", "-", ":", "+", "!"))):
        return text  # (those would be prefixes on the command itself)
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def unit_name(app: str) -> str:
    """``ssm-app-<app>.service`` for the app's name (service.py: the folder's name and a hash of its path),
    in systemd's allowed characters."""
    return "ssm-app-%s.service" % (re.sub(r"[^A-Za-z0-9:_.-]", "_", app) or "app")


def unit_text(description: str, argv: List[str], cwd: str, user: Optional[str] = None,
              stop_timeout: float = 15) -> str:
    """The unit file. ``Type=simple`` and no ``append:`` output: systemd 219 (Amazon Linux 2)
    reads it too; the launcher writes the app's output to its log itself."""
    if user is not None and not _USER.fullmatch(user):
        raise StepError("app user %r is not a Linux user name" % user)
    lines = [
        "# Written by ssm-deploy-action's agent; the next deploy replaces it.",
        "[Unit]",
        "Description=%s" % " ".join(description.split()).replace("%", "%%"),
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "WorkingDirectory=%s" % _one_line(cwd, "app folder"),  # the rest of the line, unquoted
        "ExecStart=%s" % " ".join(quote(arg, i == 0) for i, arg in enumerate(argv)),
        "Restart=on-failure",
        "RestartSec=2",
        "TimeoutStopSec=%d" % max(1, round(stop_timeout)),
        "KillMode=mixed",  # SIGTERM to the app, SIGKILL to what is left after the timeout
    ]
    if user:
        lines.append("User=%s" % user)
    return "\n".join(lines + ["", "[Install]", "WantedBy=multi-user.target", ""])


def systemd_is_pid1(proc: str = "/proc", run: str = "/run/systemd/system") -> Optional[str]:
    """None when systemd runs the system (as sd_booted checks), else what PID 1 is."""
    comm = "unknown"
    with contextlib.suppress(OSError):
        with open(os.path.join(proc, "1", "comm")) as handle:
            comm = handle.read().strip()
    return None if os.path.isdir(run) and comm == "systemd" else comm


class SystemdUnit:
    """One app's unit: install, start, stop, state, rollback of its definition, removal."""

    def __init__(self, name: str, run: Runner, keep_dir: str, unit_dir: str = UNIT_DIR) -> None:
        self.name = name
        self.run = run
        self.path = os.path.join(unit_dir, name)
        self.kept = os.path.join(keep_dir, name + ".previous")

    def check(self) -> None:
        pid1 = systemd_is_pid1()
        if pid1 is not None:
            raise StepError("app host is service but systemd is not PID 1 here (PID 1 is %s): "
                            "boot the server with systemd, or use app-host process" % pid1)

    def systemctl(self, *args: str, timeout: float = SYSTEMCTL_TIMEOUT,
                  check: bool = True) -> Ran:
        ran = self.run(["systemctl", *args], timeout=timeout)
        if check and ran.code:
            raise StepError("systemctl %s failed (exit %d): %s" % (
                " ".join(args), ran.code, (ran.err or ran.out).strip()[-300:]))
        return ran

    def current(self) -> Optional[str]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def install(self, text: str) -> str:
        """Write the unit (the one in place kept first), reload, enable at boot."""
        self.check()
        before = self.current()
        self.keep(before)
        write_atomic(self.path, text.encode("utf-8"))
        os.chmod(self.path, 0o644)
        self.systemctl("daemon-reload")
        self.systemctl("enable", self.name)
        return "unit %s %s" % (self.name, "unchanged" if before == text else (
            "replaced" if before else "installed"))

    def keep(self, before: Optional[str]) -> None:
        """What ``restore_previous`` puts back: ``before``, or no unit at all."""
        keep_copy(self.kept, None if before is None else before.encode("utf-8"))

    def start(self) -> str:
        self.systemctl("start", self.name)
        return "started %s (pid %s)" % (self.name, self.main_pid() or "none")

    def stop(self, timeout: float) -> str:
        # systemd kills after the unit's TimeoutStopSec; the command waits a little longer.
        self.systemctl("stop", self.name, timeout=timeout + SYSTEMCTL_TIMEOUT)
        return "stopped %s" % self.name

    def active(self) -> bool:
        return self.systemctl("is-active", "--quiet", self.name, check=False).code == 0

    def main_pid(self) -> Optional[int]:
        ran = self.systemctl("show", "--property=MainPID", "--value", self.name, check=False)
        pid = ran.out.strip()
        return int(pid) if ran.code == 0 and pid.isdigit() and int(pid) > 0 else None

    def restarts(self) -> int:
        """How many times systemd restarted the app (``NRestarts``, systemd 235+; else 0)."""
        ran = self.systemctl("show", "--property=NRestarts", "--value", self.name, check=False)
        return int(ran.out.strip()) if ran.out.strip().isdigit() else 0

    def journal(self, lines: int = 20) -> str:
        """The unit's last journal lines (what the launcher could not write to its log)."""
        ran = self.run(["journalctl", "--unit", self.name, "--lines", str(lines), "--no-pager",
                        "--output", "cat"], timeout=SYSTEMCTL_TIMEOUT)
        return ran.out if ran.code == 0 else ""

    def restore_previous(self) -> str:
        """Rollback: the definition that was in place before ``install``, or none at all."""
        if not os.path.isfile(self.kept):
            return self.remove()
        with open(self.kept, encoding="utf-8") as handle:
            write_atomic(self.path, handle.read().encode("utf-8"))
        self.systemctl("daemon-reload")
        self.systemctl("enable", self.name)  # again at boot, also after a retire (service.py) disabled it
        return "unit %s restored" % self.name

    def remove(self) -> str:
        """Stop, disable and delete the unit."""
        if self.current() is None:
            return "no unit %s" % self.name
        self.systemctl("disable", "--now", self.name)
        os.remove(self.path)
        self.systemctl("daemon-reload")
        self.systemctl("reset-failed", self.name, check=False)
        return "unit %s removed" % self.name
