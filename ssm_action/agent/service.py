"""``app_host: service``: the app run by systemd (Linux) or the Service Control Manager
(Windows, winservice.py); ``app_host: task``: by Task Scheduler (Windows, scheduled_task.py).

The definition's command is the launcher (launcher.py) from a copy of this agent in
the state folder: ``<python> -I <app>.deploy/agent.pyz --launch <app>.deploy/launch.json``.
The spec holds the command, the plain variables and the secret REFERENCES (mode
600, owned by the app's account): the launcher resolves the values at each start,
so neither the definition nor any file holds one. ``install`` keeps the definition
and the spec in place; ``restore_previous`` puts both back in a rollback.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import os
import re
import shutil
import subprocess  # nosec B404 # only list2cmdline, the Windows quoting rules
import sys
from typing import TYPE_CHECKING, Dict, List, Optional, Union

from ssm_action.agent import launcher
from ssm_action.agent.errors import StepError
from ssm_action.agent.files import StateDir
from ssm_action.agent.host import Platform
from ssm_action.agent.layout import AGENT_COPY, PID, SERVICE_SPEC, Layout
from ssm_action.agent.shell import Shell
from ssm_action.contract.checks import path_module
from ssm_action.contract.params import AgentParams

if TYPE_CHECKING:  # one of them is shipped: the server's (payload.FEATURES)
    from ssm_action.agent.scheduled_task import ScheduledTask
    from ssm_action.agent.systemd import SystemdUnit
    from ssm_action.agent.winservice import WindowsService


def shipped_agent() -> str:
    """The zipapp this agent runs from (``<pyz>/ssm_action/agent/service.py``)."""
    path = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isfile(path):
        raise StepError("app host service needs the agent run as its zipapp (%s is not one)" % path)
    return path


class Service:
    def __init__(self, plat: Platform, shell: Shell, records: StateDir, where: Layout,
                 params: AgentParams) -> None:
        self.plat = plat
        self.records = records
        self.where = where
        self.user = params.app_user or None
        self.stop_timeout = float(params.stop_timeout)
        path = path_module(plat.name)
        self.app = app = path.basename(where.app_dir)
        # Two apps' folders may share a name (/srv/a/web, /srv/b/web): the host's name holds a hash of the path.
        unique = "%s-%s" % (app[:64], hashlib.sha256(path.normcase(where.app_dir).encode()).hexdigest()[:8])
        keep = records.path("service")
        self.unit: Optional[SystemdUnit] = None
        self.task: Optional[ScheduledTask] = None
        self.scm: Optional[WindowsService] = None
        self.old: Union[SystemdUnit, ScheduledTask]  # the name an older agent gave: the folder's alone
        if plat.name == "windows":
            from ssm_action.agent import scheduled_task as st
            self.task, self.old = (st.ScheduledTask(st.task_name(n), shell.run, keep) for n in (unique, app))
            # A process deploy retires what an earlier one installed: the task, else the service.
            if params.app_host == "service" or (params.app_host == "process" and self.task.current() is None
                                                and self.old.current() is None):
                from ssm_action.agent import winservice
                self.scm = winservice.WindowsService.of(plat, where.app_dir, keep)
                self.earlier_task = winservice.EarlierTask(self.task)  # moved to the service once
                self.task = None
        else:
            from ssm_action.agent import systemd
            self.unit, self.old = (systemd.SystemdUnit(systemd.unit_name(n), shell.run, keep) for n in (unique, app))
        self.host: Union[SystemdUnit, ScheduledTask, WindowsService] = (
            self.unit or self.task or self.scm)  # type: ignore[assignment]
        self.normcase = path.normcase
        self.spec = records.path(SERVICE_SPEC)
        self.kept_spec = os.path.join(keep, SERVICE_SPEC + ".previous")
        self.restarts = 0
        self.first_pid: Optional[int] = None

    def install(self, argv: List[str], env: Dict[str, str], secrets: Dict[str, str],
                sha: str) -> str:
        """Write the spec and the definition (both kept first), the agent copied beside them."""
        agent = self.records.path(AGENT_COPY)
        shutil.copyfile(shipped_agent(), agent)
        os.makedirs(os.path.dirname(self.kept_spec), exist_ok=True)
        if os.path.isfile(self.spec):
            shutil.copyfile(self.spec, self.kept_spec)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.kept_spec)
        owner = self.owner()
        spec = launcher.make_spec(argv, self.where.app_dir, env, secrets, self.where.app_log,
                                  self.records.path(PID))
        spec["stop_timeout"] = self.stop_timeout  # the Windows service's wait before it ends the app
        launcher.write_spec(self.spec, spec, owner)
        if owner is not None:  # the launcher appends the app's output as the app's account
            open(self.where.app_log, "ab").close()
            os.chown(self.where.app_log, owner, -1)
        command = [sys.executable, "-I", agent, "--launch", self.spec]
        what = "%s %s (ssm-deploy-action)" % (self.app, sha[:12])
        if self.scm:
            return self.scm.install(subprocess.list2cmdline(
                [sys.executable, "-I", agent, "--service", self.scm.name, self.spec]),
                what, "%s at commit %s, managed by ssm-deploy-action (deploys replace this "
                "definition)" % (self.where.app_dir, sha), self.user)
        if self.task:
            from ssm_action.agent.scheduled_task import task_xml
            return self.task.install(task_xml(what, command, self.where.app_dir, self.user),
                                     self.user)
        from ssm_action.agent.systemd import unit_text
        assert self.unit is not None  # nosec B101 # neither a task nor a Windows service: Linux
        return self.unit.install(unit_text(what, command, self.where.app_dir, self.user,
                                           self.stop_timeout))

    def owner(self) -> Optional[int]:
        if not self.user or not self.unit:
            return None
        import pwd
        try:
            return pwd.getpwnam(self.user).pw_uid
        except KeyError:
            raise StepError("app user %r does not exist on this server: create it, or fix "
                            "app-user" % self.user)

    def adopt(self) -> str:
        """The unit (task) an older agent named after the folder's name alone, when it runs THIS folder's
        app, takes this folder's own name: removed (stopped), its definition installed under the new name,
        so it never runs beside the new one and a rollback can put it back. "" when there is none."""
        text = self.old.current() or ""
        found = re.search(r"WorkingDirectory[=>]([^<\r\n]*)", text)
        renamed = self.earlier_task.task if self.scm else self.host  # a task moving to the service: renamed first
        if not found or renamed.current() is not None or self.normcase(html.unescape(found.group(1))) != \
                self.normcase(self.where.app_dir):
            return ""
        removed = self.old.remove()
        if self.unit:
            self.unit.install(text)
        else:
            from ssm_action.agent.scheduled_task import account_of
            renamed.install(text, account_of(text))  # type: ignore[call-arg, arg-type]
        return "%s, its definition now %s; " % (removed, renamed.name)

    def exists(self) -> bool:
        return self.host.current() is not None

    def start(self) -> str:
        self.records.remove(PID)
        self.first_pid = None
        if not self.unit:
            return self.host.start()
        self.unit.check()
        done = self.unit.start()
        self.restarts = self.unit.restarts()  # a manual start resets it; a crash adds one (RestartSec=2)
        return done

    def stop(self) -> str:
        adopted = self.adopt()
        if self.scm:
            return adopted + self.earlier_task.stop() + self.scm.stop(self.stop_timeout)
        if not self.exists():
            return adopted + "no service"
        return adopted + (self.unit.stop(self.stop_timeout) if self.unit else self.host.stop())  # type: ignore

    def pid(self) -> Optional[int]:
        if self.unit:
            return self.unit.main_pid()
        pid = self.records.read(PID).get("pid")
        return pid if isinstance(pid, int) else None

    def alive(self) -> bool:
        """Running, and not restarted since our start (a crash loop is not alive)."""
        if self.unit:
            return self.unit.active() and self.unit.restarts() == self.restarts
        pid = self.pid()
        if self.scm:  # the service writes the app's pid once it started it: until then it is starting
            if self.scm.state().state not in ("running", "start_pending"):
                return False
            if pid is None:
                return self.first_pid is None
        if self.first_pid is None:
            self.first_pid = pid
        running = self.scm.state().state == "running" if self.scm else (
            self.task is not None and self.task.state() == "Running")
        return bool(running and pid is not None
                    and pid == self.first_pid and self.plat.alive(pid))

    def exit_code(self) -> Optional[int]:
        if not self.unit:
            return None  # the launcher's log line says it
        ran = self.unit.systemctl("show", "--property=ExecMainStatus", "--value", self.unit.name,
                                  check=False)
        return int(ran.out.strip()) if ran.out.strip().isdigit() else None

    def retire(self) -> str:
        """``app_host`` is process now: stop and remove the service, its definition and spec kept, so
        that a rollback to the version it ran (``restore_previous``) puts them back. "" when none."""
        adopted = self.adopt()
        before = self.host.current()
        if before is None:
            return ""
        stopped = adopted + self.stop()
        self.host.keep(before)
        if os.path.isfile(self.spec):
            os.makedirs(os.path.dirname(self.kept_spec), exist_ok=True)
            os.replace(self.spec, self.kept_spec)
        return "%s; %s (app host is process now)" % (stopped, self.host.remove())

    def restore_previous(self) -> str:
        """The definition and spec in place before ``install`` (none: the service removed)."""
        if os.path.isfile(self.kept_spec):
            shutil.copyfile(self.kept_spec, self.spec)
        done = self.host.restore_previous()
        if self.scm and self.earlier_task.present():  # the version put back ran as the task
            self.host = self.task = self.earlier_task.task
            self.scm = None
        return done

    def settled(self) -> str:
        """After the health check: the task of an earlier deploy removed, once the service serves."""
        return self.earlier_task.remove() if self.scm else ""
