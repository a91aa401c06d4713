"""The contract both sides import: the parameter checks (Linux and Windows rules), secrets,
exit codes and the result line."""

from __future__ import annotations

import re

import pytest

from ssm_action import contract
from ssm_action.contract import AgentParams, AgentResult, parse_params

LINUX = {"deploy_id": "1234567-1", "app_dir": "/srv/app", "sha": "a" * 40, "platform": "linux"}
WINDOWS = {"deploy_id": "1234567-1", "app_dir": "C:\\apps\\shop", "sha": "b" * 40,
           "platform": "windows", "venv_dir": "D:\\venvs\\shop", "backup_dir": "D:\\backups",
           "requirements_file": "deploy\\requirements.txt", "entry": "src\\app.py",
           "hooks_dir": "deploy\\hooks", "app_env": {"API_TOKEN": "t0ken-value"}}


def check(raw: object) -> tuple[AgentParams | None, list[str]]:
    """The parameters (None: refused) and the problems' messages."""
    params, problems = parse_params(raw)
    return params, [problem.message for problem in problems]


@pytest.mark.parametrize("raw", [LINUX, WINDOWS], ids=["linux", "windows"])
def test_good_parameters_pass_with_defaults_filled(raw):
    params, errors = check(dict(raw, sha=raw["sha"].upper()))
    assert errors == [] and params is not None
    assert params.sha == raw["sha"]  # lower-cased
    assert set(params.to_json()) == set(contract.BY_NAME)
    assert (params.installer, params.rollback_on_failure, params.stop_timeout) == ("auto", True, 15)


def test_windows_paths_are_not_linux_paths():
    _, errors = check(dict(WINDOWS, platform="linux"))
    assert "app_dir must be an absolute path below a root" in errors
    assert "backup_dir must be absolute (or empty)" in errors


@pytest.mark.parametrize("base, change, message", [
    (LINUX, {"surprise": 1}, "unknown parameter 'surprise'"),
    (LINUX, {"sha": None}, "sha must be a string"),
    (LINUX, {"health_timeout": True}, "health_timeout must be a number"),
    (LINUX, {"backup_retention": 2.5}, "backup_retention must be an integer"),
    (LINUX, {"rollback_on_failure": "yes"}, "rollback_on_failure must be true or false"),
    (LINUX, {"app_env": []}, "app_env must be an object"),
    (LINUX, {"sha": "abc123"}, "sha must be a full 40-hex commit id"),
    (LINUX, {"deploy_id": "../x"}, "deploy_id must be 1-64 letters"),
    (LINUX, {"app_dir": "srv/app"}, "app_dir must be an absolute path below a root"),
    (LINUX, {"app_dir": "/"}, "app_dir must be an absolute path below a root"),
    (WINDOWS, {"app_dir": "C:\\"}, "app_dir must be an absolute path below a root"),
    (WINDOWS, {"app_dir": "apps\\shop"}, "app_dir must be an absolute path below a root"),
    (LINUX, {"git_remote": '--upload-pack=evil'}, "git_remote must be a URL"),
    (LINUX, {"git_remote": 'fd::3'}, "git_remote must be a URL"),
    (LINUX, {"git_remote": 'ext::sh -c touch% /tmp/pwned'}, "git_remote must be a URL"),
    (LINUX, {"git_remote": 'evil://host/repo'}, "git_remote must be a URL"),
    (LINUX, {"git_remote": 'https://h/r\nx'}, "git_remote must be a URL"),
    (LINUX, {"branch": "-x"}, "branch is not a valid branch name"),
    (LINUX, {"branch": "a..b"}, "branch is not a valid branch name"),
    (LINUX, {"entry": "../evil.py"}, "entry must be relative to app_dir"),
    (WINDOWS, {"entry": "..\\evil.py"}, "entry must be relative to app_dir"),
    (LINUX, {"entry": "C:\\evil.py"}, "entry must be relative to app_dir"),
    (LINUX, {"requirements_file": "/etc/passwd"}, "requirements_file must be relative"),
    (WINDOWS, {"hooks_dir": "C:\\hooks"}, "hooks_dir must be relative to app_dir"),
    (LINUX, {"venv_dir": "."}, "venv_dir must not be app_dir or one of its parents"),
    (WINDOWS, {"venv_dir": "C:\\apps"}, "venv_dir must not be app_dir or one of its parents"),
    (LINUX, {"backup_dir": "backups"}, "backup_dir must be absolute (or empty)"),
    (LINUX, {"health_url": "ftp://x/"}, "health_url must be an http:// or https:// URL"),
    (LINUX, {"health_timeout": 0}, "health_timeout must be > 0"),
    (LINUX, {"stop_timeout": -1}, "stop_timeout must be >= 0"),
    (LINUX, {"start_grace": -1}, "start_grace must be >= 0"),
    (LINUX, {"backup_retention": 0}, "backup_retention must be >= 1"),
    (LINUX, {"installer": "conda"}, "installer must be auto, pip or uv"),
    (LINUX, {"platform": "mac"}, "platform must be windows or linux"),
    (LINUX, {"app_env": {"A": 1}}, "app_env must map variable names to strings"),
    (LINUX, {"app_env": {"A=B": "1"}}, "app_env must map variable names to strings"),
    (LINUX, {"app_command": "waitress-serve"}, "app_command must be a list"),
    (LINUX, {"app_command": ["-m"]}, "app_command must start with -m MODULE"),
    (LINUX, {"app_command": ["-X", "dev"]}, "app_command must start with -m MODULE"),
    (LINUX, {"app_command": ["../run.py"]}, "app_command must start with -m MODULE"),
    (LINUX, {"app_command": ["/usr/bin/env", "x"]}, "app_command must start with -m MODULE"),
    (WINDOWS, {"app_command": ["bin\\serve.exe"]}, "app_command must start with -m MODULE"),
    (LINUX, {"app_command": ["serve", 8000]}, "app_command must start with -m MODULE"),
    (LINUX, {"app_secrets": {"DB": "vault:x"}}, "app_secrets must map variable names to references"),
    (LINUX, {"app_secrets": {"1DB": "ssm:/x"}}, "app_secrets must map variable names to references"),
    (LINUX, {"app_secrets": {"A": "ssm:/x"}, "app_env": {"A": "1"}}, "app_secrets and app_env name the same"),
    (LINUX, {"app_host": "docker"}, "app_host must be process, service or task"),
    (LINUX, {"app_user": "a;b"}, "app_user must be an account name"),
    (LINUX, {"health_status": "ok"}, "health_status must list codes or ranges"),
    (LINUX, {"health_status": "600"}, "health_status must list codes or ranges"),
])
def test_each_error_is_named(base, change, message):
    _, errors = check(dict(base, **change))
    assert [e for e in errors if e.startswith(message)], errors


def test_not_an_object_and_missing_parameters():
    assert check([1]) == (None, ["the parameters must be a JSON object"])
    _, errors = check({})
    assert errors == ["deploy_id is required", "app_dir is required", "sha is required",
                      "platform is required"]


@pytest.mark.parametrize("words", [["-m", "uvicorn", "notes.main:app"], ["serve.py", "--port", "1"],
                                   ["waitress-serve", "--listen=127.0.0.1:8000", "notes:app"], []])
def test_the_three_forms_of_app_command_pass(words):
    assert check(dict(LINUX, app_command=words, app_user="notes"))[1] == []
    assert check(dict(WINDOWS, app_command=words, app_user="CORP\\svc-notes"))[1] == []


@pytest.mark.parametrize("accepted, code, ok", [("2xx", 204, True), ("2xx", 301, False), ("200,204", 204, True),
                                                ("200-399", 302, True), ("200-399", 404, False),
                                                ("2xx, 401", 401, True), ("200", 201, False)])
def test_accepted_health_statuses(accepted, code, ok):
    assert contract.status_ok(accepted, code) is ok
    assert check(dict(LINUX, health_status=accepted))[1] == []


def test_no_parameter_carries_a_secret_value_only_references():
    params, _ = check(dict(WINDOWS, app_secrets={"DB_URL": "ssm:/app/db"}))
    assert params is not None and params.secret_values() == []
    assert [p.name for p in contract.PARAMS if p.secret] == ["artifact_url"]  # a presigned URL


def test_an_artifact_deploy_needs_its_reference_and_its_url_is_a_secret():
    url = "https://b.s3.amazonaws.com/k.zip?X-Amz-Signature=abc"
    params, errors = check({**WINDOWS, "source": "artifact", "artifact_url": url,
                            "artifact_sha256": "a" * 64, "artifact_size": 10})
    assert errors == [] and params is not None and url in params.secret_values()
    _, errors = check({**WINDOWS, "source": "artifact", "artifact_sha256": "A" * 64})
    assert errors == ["artifact_url is required with source artifact",
                      "artifact_sha256 must be 64 lowercase hex digits", "artifact_size must be > 0"]
    assert check({**WINDOWS, "source": "svn"})[1] == ["source must be git or artifact"]


def full_result() -> AgentResult:
    return AgentResult(
        "rolled_back", error="verify: answered 503 | `x` <b>", deploy_id="9-1",
        target_sha="c" * 40, previous_sha="d" * 40, running_sha="d" * 40,
        backup_path="/srv/app-backups/app.zip", health="healthy", health_code=200, pid=42,
        log_file="/srv/app.deploy/logs/x.log", python="3.8.18", rolled_back=True,
        steps=[{"name": "lock", "seconds": 0.01, "ok": True}], discarded_changes=["config.txt"])


def test_the_result_line_round_trips():
    result = full_result()
    line = result.line()
    assert line.startswith(contract.RESULT_PREFIX) and "\n" not in line
    output = "deploy 9-1: ...\n%s\nnoise after\n" % AgentResult("failed").line() + line + "\n"
    assert AgentResult.parse(output) == result  # the last result line wins
    assert AgentResult.from_dict(result.to_dict()) == result
    assert set(result.to_dict()) == set(AgentResult.__dataclass_fields__)


def test_results_that_are_not_results():
    assert AgentResult.parse("no result here\n") is None
    assert AgentResult.parse(contract.RESULT_PREFIX + "{not json") is None
    assert AgentResult.from_dict({"error": "no status"}) is None
    assert AgentResult.from_dict([]) is None
    newer = dict(full_result().to_dict(), field_from_a_newer_agent=1)
    assert AgentResult.from_dict(newer) == full_result()  # unknown keys are ignored
    assert re.fullmatch(r"SSM_DEPLOY_RESULT \{.*\}", AgentResult("busy").line())
