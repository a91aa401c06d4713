"""Where an app's files are, from its parameters."""

from __future__ import annotations

import os

from ssm_action.agent.layout import Layout
from ssm_action.contract import AgentParams


def params(**given: str) -> AgentParams:
    """Parameters as the agent parses them, the paths given."""
    return AgentParams(deploy_id="1-1", sha="a" * 40, platform="linux", **given)


def test_defaults_sit_next_to_the_clone():
    where = Layout.of(params(app_dir="/srv/app/", venv_dir="", backup_dir="",
                             entry="src/../app.py", requirements_file="requirements.txt"))
    assert where == Layout(
        app_dir="/srv/app", state_dir="/srv/app.deploy", venv="/srv/app/.venv",
        backup_dir="/srv/app-backups", entry="/srv/app/app.py",
        requirements="/srv/app/requirements.txt",
        app_log=os.path.join("/srv/app.deploy", "logs", "app.log"))


def test_explicit_folders_win():
    where = Layout.of(params(app_dir="/srv/app", venv_dir="/opt/venvs/app",
                             backup_dir="/var/backups", entry="app.py",
                             requirements_file="deploy/req.txt"))
    assert (where.venv, where.backup_dir, where.requirements) == (
        "/opt/venvs/app", "/var/backups", "/srv/app/deploy/req.txt")
