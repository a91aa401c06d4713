"""Where one app's files are on the server, derived once from the parameters."""

from __future__ import annotations

import os
from typing import NamedTuple

from ssm_action.contract.params import AgentParams

# The state folder's files (``<app_dir>.deploy``), named here only
LOCK = "deploy.lock"  # the OS lock a deploy holds
OWNER = "lock-owner.json"  # who holds it, for the "busy" message
JOURNAL = "journal.json"  # the deploy in progress: what a crashed agent's successor repairs
LAST_GOOD = "last-good.json"  # the versions that were healthy, newest first
LAST_DEPLOY = "last-deploy.json"  # how the last deploy ended (status reads it)
PID_FILE = "app.json"  # the app started as a process: pid, start time, commit
STOP_REQUEST = "stop-request"  # asks the app's launcher to stop it gracefully
SERVICE_SPEC = "launch.json"  # while a service of this app is installed: what the launcher starts
PID = "service-app.json"  # the launcher writes the service's app pid here
AGENT_COPY = "agent.pyz"  # the agent kept for the service host's start command
DEPS = "deps.json"  # what the venv was installed from (skip an unchanged install)
RECORD = "releases.json"  # artifact deploys: the releases kept
ADOPTING = "adopting.json"  # artifact deploys: a git clone being adopted
LOGS = "logs"  # the agent's per-deploy logs and the app's log

CACHE_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox"}  # never backed up


class Layout(NamedTuple):
    app_dir: str  # the git clone (the work tree)
    state_dir: str  # <app_dir>.deploy: outside the work tree, so git never touches it
    venv: str
    backup_dir: str
    entry: str  # absolute path of the entry script: how the app's processes are recognised
    requirements: str
    app_log: str

    @classmethod
    def of(cls, params: AgentParams) -> "Layout":
        app_dir = os.path.normpath(params.app_dir)
        state_dir = app_dir + ".deploy"
        return cls(
            app_dir=app_dir, state_dir=state_dir,
            venv=os.path.normpath(os.path.join(app_dir, params.venv_dir or ".venv")),
            backup_dir=params.backup_dir or app_dir + "-backups",
            entry=os.path.join(app_dir, os.path.normpath(params.entry)),
            requirements=os.path.join(app_dir, params.requirements_file),
            app_log=os.path.join(state_dir, LOGS, "app.log"))
