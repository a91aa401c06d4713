"""Where one app's files are on the server, derived once from the parameters."""

from __future__ import annotations

import os
from typing import NamedTuple

from ssm_action.contract import AgentParams

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
            app_log=os.path.join(state_dir, "logs", "app.log"))
