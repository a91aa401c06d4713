"""The agent's read-only actions: ``status`` (what runs here) and the choice of a ``rollback``'s version.

Status writes nothing, takes no lock and starts nothing: it reads the agent's
records (the app's PID file, the last good version, the last deploy's outcome,
the lock owner), asks the health URL once, and prints one result line.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Dict, Optional, Tuple

from ssm_action.agent import history
from ssm_action.agent.files import StateDir
from ssm_action.agent.git import Git
from ssm_action.agent.health import Rule, check_once
from ssm_action.agent.host import Platform
from ssm_action.agent.layout import LAST_DEPLOY, OWNER, PID_FILE, Layout
from ssm_action.agent.output import Reporter, short
from ssm_action.agent.shell import Shell
from ssm_action.agent.venv import RUNNING_PYTHON
from ssm_action.contract.params import AgentParams
from ssm_action.contract.result import AgentResult, ExitCode

HEALTH_TIMEOUT_MAX = 5.0  # one quick GET: status runs on a schedule over whole fleets


def _alive(record: Dict[str, Any], plat: Platform) -> bool:
    """The recorded pid runs, and is the process recorded (its start time, when recorded)."""
    pid = record.get("pid")
    return isinstance(pid, int) and plat.alive(pid) and record.get("start") in (None, plat.started(pid))


def lock_holder(records: StateDir, plat: Platform) -> Optional[str]:
    """Who holds the deploy lock, or None (a dead holder's record is a stale lock, not a held one)."""
    owner = records.read(OWNER)
    if not _alive(owner, plat):
        return None
    return "deploy %s (pid %s) since %s" % (owner.get("deploy_id", "?"), owner["pid"], owner.get("since", "?"))


def health_of(params: AgentParams, running: bool) -> Tuple[str, Optional[int], str]:
    """Health as a deploy judges it (health.judge: the accepted codes and the body's text), from one
    quick GET: the word, the HTTP code, and why it is unhealthy ("" when it is not)."""
    if not params.health_url:
        return ("not_checked" if running else "unhealthy"), None, ""
    answer, why = check_once(params.health_url, Rule(params.health_status, params.health_contains),
                             min(HEALTH_TIMEOUT_MAX, params.health_timeout))
    return ("unhealthy" if why else "healthy"), answer.status, why


def service_note(params: AgentParams, plat: Platform) -> str:
    """The Windows service's state, process and start time as the SCM says them ("" for every other host)."""
    if plat.name != "windows" or params.app_host != "service":
        return ""
    from ssm_action.agent import winservice  # shipped with app_host service (payload.FEATURES)
    name = winservice.service_name(params.app_dir)
    now = winservice.Scm(name).status()
    return "; service %s %s%s" % (name, now.state, " (pid %d%s)" % (
        now.pid, winservice.since(plat, now.pid)) if now.pid else "")


def status(params: AgentParams, plat: Platform, rep: Reporter) -> int:
    records = StateDir(Layout.of(params).state_dir)
    app = records.read(PID_FILE)
    running = _alive(app, plat)
    health, code, why = health_of(params, running)
    last = records.read(LAST_DEPLOY) or None
    good = history.last_good(records)
    lock = lock_holder(records, plat)
    rep.say("status: %s; %s; health %s%s; lock %s%s" % (
        "running %s (pid %s) since %s" % (short(app.get("sha")), app["pid"], app.get("started")) if running
        else "no app process running", "last deploy %s: %s" % (last["deploy_id"], last["status"]) if last
        else "no deploy recorded", health, " (%s)" % why if why else " (HTTP %s)" % code if code else "",
        lock or "free",
        service_note(params, plat)))
    rep.result(AgentResult(
        "success", action="status", deploy_id=params.deploy_id, running_sha=app.get("sha") if running else None,
        since=app.get("started") if running else None, pid=app["pid"] if running else None,
        target_sha=good.get("sha"), health=health, health_code=code, last_deploy=last, lock=lock,
        python=RUNNING_PYTHON).to_dict())
    return ExitCode.OK


def rollback_params(params: AgentParams, plat: Platform, rep: Reporter) -> Optional[AgentParams]:
    """The deploy parameters that put the last good version back; None (result printed) when there is none."""
    where = Layout.of(params)
    records = StateDir(where.state_dir)
    app = records.read(PID_FILE)
    running = app.get("sha") if _alive(app, plat) else None
    if running is None and os.path.isdir(where.app_dir):
        running = Git(Shell(rep), where.app_dir, "", "").head()
    target = history.rollback_target(records, running)
    if target is None:
        error = ("no earlier good version is recorded on this server (running %s): nothing to roll back to"
                 % short(running))
        rep.say("result: failed: " + error)
        rep.result(AgentResult("failed", error=error, action="rollback", deploy_id=params.deploy_id,
                               running_sha=running, python=RUNNING_PYTHON).to_dict())
        return None
    rep.say("rollback: running %s; putting back %s (deploy %s, %s)" % (
        short(running), short(target["sha"]), target.get("deploy_id"), target.get("time")))
    return history.put_back_params(replace(params, sha=target["sha"]), target.get("started_with"), rep)
