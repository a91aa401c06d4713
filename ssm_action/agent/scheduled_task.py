"""Windows service host: the app as a Task Scheduler task, operated through ``schtasks.exe``.

The task starts at boot, runs as SYSTEM (or a given account, "S4U": without a stored
password), has NO execution time limit (Task Scheduler's default ends a task after
72 hours) and is restarted when it fails to start. Task Scheduler does not treat
a non-zero exit as a failure, so the task's command is the launcher (launcher.py),
which supervises the app and restarts it after a crash. The task runs outside the
SSM command's process tree and job object, so it outlives the command.

The definition in place is read with ``/Query /XML`` and kept before a new one is
registered; ``restore_previous`` registers it again in a rollback.
"""

from __future__ import annotations

import ntpath
import os
import re
import subprocess  # nosec B404 # only list2cmdline, the Windows quoting rules
import xml.etree.ElementTree as ET  # nosec B405 # we build XML, and parse only our own
from typing import Callable, List, Optional, Tuple

from ssm_action.agent.errors import StepError
from ssm_action.agent.files import keep_copy, write_atomic
from ssm_action.agent.shell import Ran

TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
SYSTEM_SID = "S-1-5-18"  # LocalSystem
FOLDER = "\\ssm-deploy\\"  # the Task Scheduler folder of the apps' tasks
SCHTASKS_TIMEOUT = 60
Runner = Callable[..., Ran]  # Shell.run: (argv, timeout=...) -> Ran
_ACCOUNT = re.compile(r"([A-Za-z0-9._-]{1,15}\\)?[A-Za-z0-9._ -]{1,20}\$?")


def task_name(app: str) -> str:
    """``\\ssm-deploy\\<app>`` for the app's name (service.py: the folder's name and a hash of its path)."""
    return FOLDER + (re.sub(r"[^A-Za-z0-9._-]", "_", app) or "app")


def _sub(parent: ET.Element, tag: str, text: Optional[str] = None) -> ET.Element:
    child = ET.SubElement(parent, "{%s}%s" % (TASK_NS, tag))
    if text is not None:
        child.text = text
    return child


# The task's settings, in the order Task Scheduler exports them (IdleSettings: its children).
SETTINGS: Tuple[Tuple[str, str], ...] = (
    ("MultipleInstancesPolicy", "IgnoreNew"),  # /Run while it runs: still one app
    ("DisallowStartIfOnBatteries", "false"),
    ("StopIfGoingOnBatteries", "false"),
    ("AllowHardTerminate", "true"),
    ("StartWhenAvailable", "true"),
    ("RunOnlyIfNetworkAvailable", "false"),
    ("IdleSettings", ""),
    ("AllowStartOnDemand", "true"),
    ("Enabled", "true"),
    ("Hidden", "false"),
    ("RunOnlyIfIdle", "false"),
    ("WakeToRun", "false"),
    ("ExecutionTimeLimit", "PT0S"),  # no limit (the default, PT72H, ends the app after 3 days)
    ("Priority", "5"),  # normal (the default, 7, is below normal)
)


def _settings(task: ET.Element, restart_minutes: int, restart_count: int) -> None:
    settings = _sub(task, "Settings")
    for tag, value in SETTINGS:
        element = _sub(settings, tag, value or None)
        if tag == "IdleSettings":
            _sub(element, "StopOnIdleEnd", "false")
            _sub(element, "RestartOnIdle", "false")
    restart = _sub(settings, "RestartOnFailure")
    _sub(restart, "Interval", "PT%dM" % max(1, restart_minutes))  # the schema's minimum
    _sub(restart, "Count", str(min(max(1, restart_count), 255)))  # an unsignedByte


def task_xml(description: str, argv: List[str], cwd: str, user: Optional[str] = None,
             restart_minutes: int = 1, restart_count: int = 255) -> str:
    """The task definition (Task Scheduler schema 1.2) running ``argv`` in ``cwd``."""
    if user is not None and not _ACCOUNT.fullmatch(user):
        raise StepError("app user %r is not a Windows account name (NAME or DOMAIN\\NAME)" % user)
    for word in argv + [cwd]:  # Task Scheduler expands %VAR% in the command, its arguments and folder, unescapable
        if "%" in word:
            raise StepError("%s holds a %%, which Task Scheduler would expand as a variable: use an app folder "
                            "without %%, or app-host process" % word)
    ET.register_namespace("", TASK_NS)
    task = ET.Element("{%s}Task" % TASK_NS, {"version": "1.2"})
    _sub(_sub(task, "RegistrationInfo"), "Description", description)
    _sub(_sub(_sub(task, "Triggers"), "BootTrigger"), "Enabled", "true")
    principal = _sub(_sub(task, "Principals"), "Principal")
    principal.set("id", "Author")
    _sub(principal, "UserId", user or SYSTEM_SID)
    _sub(principal, "LogonType", "S4U" if user else "ServiceAccount")
    _sub(principal, "RunLevel", "HighestAvailable" if not user else "LeastPrivilege")
    _settings(task, restart_minutes, restart_count)
    actions = _sub(task, "Actions")
    actions.set("Context", "Author")
    action = _sub(actions, "Exec")
    _sub(action, "Command", argv[0])
    if argv[1:]:
        _sub(action, "Arguments", subprocess.list2cmdline(argv[1:]))
    _sub(action, "WorkingDirectory", cwd)
    return '<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode")


class ScheduledTask:
    """One app's task: install, start, stop, state, rollback of its definition, removal."""

    def __init__(self, name: str, run: Runner, keep_dir: str,
                 system32: str = "C:\\Windows\\System32") -> None:
        self.name = name
        self.run = run
        self.keep_dir = keep_dir
        self.schtasks = ntpath.join(system32, "schtasks.exe")
        self.powershell = ntpath.join(system32, "WindowsPowerShell", "v1.0", "powershell.exe")
        base = name.strip("\\").replace("\\", "-")
        self.xml_path = os.path.join(keep_dir, base + ".xml")
        self.kept = os.path.join(keep_dir, base + ".previous.xml")

    def call(self, *args: str, check: bool = True) -> Ran:
        ran = self.run([self.schtasks, *args], timeout=SCHTASKS_TIMEOUT)
        if check and ran.code:
            raise StepError("schtasks %s failed (exit %d): %s" % (
                " ".join(args[:1]), ran.code, (ran.err or ran.out).strip()[-300:]))
        return ran

    def current(self) -> Optional[str]:
        """The registered definition (``/Query /XML``), None when there is no such task."""
        ran = self.call("/Query", "/TN", self.name, "/XML", check=False)
        if ran.code:
            return None
        return ran.out.strip() or None

    def create_argv(self, xml_path: str, user: Optional[str]) -> List[str]:
        """``/Create /XML``; SYSTEM named with /RU too, a user's S4U logon comes from the XML."""
        argv = ["/Create", "/TN", self.name, "/XML", xml_path, "/F"]
        return argv + ([] if user else ["/RU", "SYSTEM"])

    def register(self, xml: str, user: Optional[str]) -> None:
        os.makedirs(self.keep_dir, exist_ok=True)
        write_atomic(self.xml_path, xml.encode("utf-16"))  # with a BOM, as the declaration says
        self.call(*self.create_argv(self.xml_path, user))

    def install(self, xml: str, user: Optional[str] = None) -> str:
        """Register the task (the definition in place kept first)."""
        before = self.current()
        self.keep(before)
        self.register(xml, user)
        return "task %s %s" % (self.name, "replaced" if before else "installed")

    def keep(self, before: Optional[str]) -> None:
        """What ``restore_previous`` registers again: ``before``, or no task at all."""
        keep_copy(self.kept, None if before is None else before.encode("utf-16"))

    def start(self) -> str:
        self.call("/Run", "/TN", self.name)
        return "started task %s" % self.name

    def stop(self) -> str:
        """End the task's process (the launcher; the app is its child, see launcher.py)."""
        ran = self.call("/End", "/TN", self.name, check=False)
        return "ended task %s" % self.name if ran.code == 0 else "task %s was not running" % (
            self.name)

    def state(self) -> str:
        """Running, Ready, Disabled, Queued or Unknown (not localised, unlike schtasks' text)."""
        folder, _, leaf = self.name.rpartition("\\")
        script = "(Get-ScheduledTask -TaskPath '%s\\' -TaskName '%s').State.ToString()" % (
            folder.replace("'", "''"), leaf.replace("'", "''"))
        ran = self.run([self.powershell, "-NoProfile", "-NonInteractive", "-Command", script],
                       timeout=SCHTASKS_TIMEOUT)
        return ran.out.strip() if ran.code == 0 and ran.out.strip() else "Unknown"

    def restore_previous(self) -> str:
        """Rollback: the definition that was in place before ``install``, or none at all."""
        if not os.path.isfile(self.kept):
            return self.remove()
        with open(self.kept, "rb") as handle:
            xml = handle.read().decode("utf-16")
        self.register(xml, account_of(xml))
        return "task %s restored" % self.name

    def remove(self) -> str:
        if self.current() is None:
            return "no task %s" % self.name
        self.stop()
        self.call("/Delete", "/TN", self.name, "/F")
        return "task %s removed" % self.name


def account_of(xml: str) -> Optional[str]:
    """The account of a task definition (as /Query /XML printed it); None: SYSTEM."""
    found = re.search(r"<UserId>([^<]*)</UserId>", xml)
    return found.group(1) if found and found.group(1) != SYSTEM_SID else None
