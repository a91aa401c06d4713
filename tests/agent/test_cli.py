"""The agent's command line: parameters checked (the contract's checks and this OS), read, refused."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from ssm_action import contract
from ssm_action.agent import cli
from ssm_action.agent.errors import ParamError
from ssm_action.contract import ExitCode
from tests.agent.agent_fixtures import parse_result

BASE = {"deploy_id": "1234567-1", "app_dir": "/srv/app", "sha": "a" * 40, "platform": "linux"}


def test_defaults_are_filled():
    params = cli.validate(dict(BASE, sha="A" * 40), "linux")
    assert params.sha == "a" * 40
    assert (params.requirements_file, params.entry, params.installer) == ("requirements.txt", "app.py", "auto")
    assert (params.health_timeout, params.backup_retention, params.rollback_on_failure) == (60, 5, True)
    assert (params.stop_timeout, params.start_grace, params.app_env) == (15, 2, {})
    assert set(params.to_json()) == set(contract.BY_NAME)


@pytest.mark.parametrize("change, message", [
    ({"surprise": 1}, "unknown parameter 'surprise'"),
    ({"sha": None}, "sha must be a string"),
    ({"health_timeout": True}, "health_timeout must be a number"),
    ({"backup_retention": 2.5}, "backup_retention must be an integer"),
    ({"rollback_on_failure": "yes"}, "rollback_on_failure must be true or false"),
    ({"sha": "abc123"}, "sha must be a full 40-hex commit id"),
    ({"deploy_id": "../x"}, "deploy_id must be"),
    ({"app_dir": "srv/app"}, "app_dir must be an absolute path"),
    ({"app_dir": "/"}, "app_dir must be an absolute path below a root"),
    ({"git_remote": '--upload-pack=evil'}, "git_remote must be a URL"),
    ({"git_remote": 'fd::3'}, "git_remote must be a URL"),
    ({"git_remote": 'ext::sh -c touch% /tmp/pwned'}, "git_remote must be a URL"),
    ({"git_remote": 'evil://host/repo'}, "git_remote must be a URL"),
    ({"git_remote": 'https://h/r\nx'}, "git_remote must be a URL"),
    ({"branch": "-x"}, "branch is not a valid branch name"),
    ({"branch": "a..b"}, "branch is not a valid branch name"),
    ({"entry": "../evil.py"}, "entry must be relative to app_dir"),
    ({"requirements_file": "/etc/passwd"}, "requirements_file must be relative"),
    ({"hooks_dir": "C:\\hooks"}, "hooks_dir must be relative"),
    ({"venv_dir": "."}, "venv_dir must not be app_dir"),
    ({"venv_dir": "/srv"}, "venv_dir must not be app_dir or one of its parents"),
    ({"backup_dir": "backups"}, "backup_dir must be absolute"),
    ({"health_url": "ftp://x/"}, "health_url must be an http"),
    ({"health_timeout": 0}, "health_timeout must be > 0"),
    ({"backup_retention": 0}, "backup_retention must be >= 1"),
    ({"installer": "conda"}, "installer must be auto, pip or uv"),
    ({"platform": "windows"}, "platform is 'windows' but this server runs linux"),
    ({"platform": "mac"}, "platform must be windows or linux"),
    ({"app_env": {"A": 1}}, "app_env must map variable names to strings"),
    ({"app_env": {"A=B": "1"}}, "app_env must map variable names to strings"),
])
def test_invalid_parameters_are_named(change, message):
    with pytest.raises(ParamError, match=re.escape(message)):
        cli.validate(dict(BASE, **change), "linux")


def test_missing_required_parameters():
    with pytest.raises(ParamError) as caught:
        cli.validate({}, "linux")
    assert str(caught.value) == ("deploy_id is required; app_dir is required; sha is required; "
                                 "platform is required")


def test_params_b64_and_unreadable_input(tmp_path: Path):
    text = json.dumps(BASE).encode()
    encoded = base64.b64encode(text).decode()
    assert cli.load_params(["--params-b64", encoded], "linux").app_dir == "/srv/app"
    with pytest.raises(ParamError, match="cannot read the parameters"):
        cli.load_params(["--params-b64", "not base64!"], "linux")
    with pytest.raises(ParamError, match="cannot read the parameters"):
        cli.load_params(["--params-file", str(tmp_path / "missing.json")], "linux")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ParamError, match="must be a JSON object"):
        cli.load_params(["--params-file", str(tmp_path / "list.json")], "linux")


def test_bad_command_line_exits_4_with_a_result_line(capsys: pytest.CaptureFixture):
    assert cli.main(["--params-file"]) == ExitCode.BAD_PARAMS
    result = parse_result(capsys.readouterr().out)
    assert result["status"] == "invalid" and result["error"].startswith("usage: agent.pyz ")
