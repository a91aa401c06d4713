"""Every module of the agent has its test module: the map below names it, and a new module without one
fails here. Tested through the whole agent is not enough: the test module must name the module."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
AGENT = ROOT / "ssm_action" / "agent"
DECLARATIONS = {"__init__", "errors", "pipeline"}  # the operators' guide, exception classes, two Protocols
TESTED_IN = {
    "app": "tests/agent/test_app_deploy.py", "app_command": "tests/agent/test_app_command.py",
    "artifact": "tests/artifact/test_agent_artifact.py", "aws": "tests/agent/test_aws_sigv4.py",
    "backups": "tests/agent/test_backups.py", "cli": "tests/agent/test_cli.py",
    "delivery": "tests/artifact/release_driver.py", "deploy": "tests/agent/test_agent_deploy.py",
    "files": "tests/agent/test_files.py", "git": "tests/agent/test_git.py",
    "git_source": "tests/agent/test_git_source.py", "health": "tests/agent/test_health.py",
    "history": "tests/agent/test_rollback_start.py", "host": "tests/agent/test_posix.py",
    "journal": "tests/agent/test_journal.py", "last_words": "tests/agent/test_launcher.py",
    "launcher": "tests/agent/test_launcher.py", "layout": "tests/agent/test_layout.py",
    "links": "tests/windows/test_windows_links.py", "lock": "tests/agent/test_lock.py",
    "output": "tests/agent/test_output.py", "posix": "tests/agent/test_posix.py",
    "releases": "tests/artifact/test_releases.py", "scheduled_task": "tests/agent/test_scheduled_task.py",
    "secrets": "tests/agent/test_secrets.py", "service": "tests/agent/test_service_host.py",
    "shell": "tests/agent/test_shell.py", "status": "tests/agent/test_fleet_actions.py",
    "systemd": "tests/agent/test_systemd_host.py", "venv": "tests/windows/test_windows_upgrade.py",
    "wheelhouse": "tests/artifact/test_install.py", "windows": "tests/agent/test_windows.py",
    "winproc": "tests/agent/test_windows.py", "winservice": "tests/agent/test_winservice.py",
    "winservice_run": "tests/agent/test_winservice.py",
}


def test_every_agent_module_has_a_test_module_that_names_it():
    modules = {path.stem for path in AGENT.glob("*.py")} - DECLARATIONS
    assert modules == set(TESTED_IN), "map each new agent module to its test module here"
    for module, test in sorted(TESTED_IN.items()):
        text = (ROOT / test).read_text(encoding="utf-8")
        assert re.search(r"\b%s\b" % module, text), f"{test} does not name {module}"
