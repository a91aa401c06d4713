"""The app's start command in its venv, in its three forms and the default, on this machine's real POSIX
platform and a Windows layout's names; and the file it needs, checked after the install."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ssm_action.agent import app_command
from ssm_action.agent.errors import StepError
from ssm_action.agent.layout import Layout
from ssm_action.agent.posix import PosixPlatform
from ssm_action.contract import AgentParams

SHA = "a" * 40


def params(app_dir: Path, **given: object) -> AgentParams:
    return AgentParams(deploy_id="1-1", app_dir=str(app_dir), sha=SHA, platform="linux", **given)


@pytest.mark.parametrize("words, argv, needs", [
    ([], ["{venv}/bin/python", "{app}/app.py"], "{app}/app.py"),
    (["-m", "waitress", "--port", "8080", "notes:app"], ["{venv}/bin/python", "-m", "waitress", "--port", "8080",
                                                         "notes:app"], ""),
    (["serve.py", "8080"], ["{venv}/bin/python", "{app}/serve.py", "8080"], "{app}/serve.py"),
    (["uvicorn", "notes:app"], ["{venv}/bin/uvicorn", "notes:app"], "{venv}/bin/uvicorn"),
])
def test_each_form_resolves_in_the_venv(tmp_path: Path, words: list[str], argv: list[str], needs: str):
    p = params(tmp_path / "app", app_command=words)
    where = Layout.of(p)
    command = app_command.resolve(PosixPlatform(), where, p)
    names = {"venv": where.venv, "app": where.app_dir}
    assert command == app_command.Command([a.format(**names) for a in argv], needs.format(**names))


def test_a_console_script_on_windows_is_its_exe_in_scripts():
    assert app_command.console_script(type("WindowsNames", (), {"name": "windows"})(), "C:\\app\\.venv",
                                      "waitress-serve") == "C:\\app\\.venv\\Scripts\\waitress-serve.exe"


def test_the_file_a_command_needs_is_checked_after_the_install(tmp_path: Path):
    p = params(tmp_path / "app")
    command = app_command.resolve(PosixPlatform(), Layout.of(p), p)
    with pytest.raises(StepError, match="entry script app.py is not in commit aaaaaaaaaaaa: fix the entry"):
        app_command.check(command, p, SHA)
    os.makedirs(tmp_path / "app")
    (tmp_path / "app" / "app.py").write_text("")
    app_command.check(command, p, SHA)  # there now
    script = params(tmp_path / "app", app_command=["uvicorn", "notes:app"])
    with pytest.raises(StepError, match="uvicorn \\(from app_command\\) is not there after the install"):
        app_command.check(app_command.resolve(PosixPlatform(), Layout.of(script), script), script, SHA)
