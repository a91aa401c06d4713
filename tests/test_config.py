"""The typed config: every input parsed, every problem reported at once."""

import dataclasses
from pathlib import Path

import pytest

from ssm_action import config
from tests.factories import parse


def errors_for(tmp_path: Path, **inputs: str) -> dict[str, str]:
    cfg, errors = parse(tmp_path, **inputs)
    assert cfg is None
    return {e.input: e.message for e in errors}


DEPLOY = dict(mode="deploy", instance_ids="i-0123456789abcdef0", app_directory="C:\\apps\\web", aws_region="eu-west-1")


def test_defaults_give_a_gates_config(tmp_path):
    cfg, errors = parse(tmp_path)
    assert errors == []
    assert cfg.mode == "gates" and cfg.deploy.transport == "ssm" and cfg.deploy.targets.platform == "windows"
    assert cfg.gates.gates == config.GATE_NAMES
    assert cfg.gates.blocking_gates == ("tests", "pip-audit", "flake8", "smoke", "env", "deps")
    assert cfg.gates.working_directory == cfg.deploy.working_directory == tmp_path
    assert cfg.deploy.server.rollback_on_failure is True and cfg.deploy.dry_run is False
    assert cfg.deploy.environment_map == (("dev", "development"), ("master", "production"), ("main", "production"))
    assert cfg.deploy.python_on_server == "python"


@pytest.mark.parametrize("word,value", [("true", True), ("True", True), ("TRUE", True),
                                        ("false", False), ("False", False), ("FALSE", False)])
def test_booleans_accept_the_yaml_forms(tmp_path, word, value):
    cfg, _ = parse(tmp_path, dry_run=word)
    assert cfg.deploy.dry_run is value


@pytest.mark.parametrize("word", ["yes", "1", "on", "", "tru"])
def test_other_booleans_are_refused(tmp_path, word):
    assert "boolean" in errors_for(tmp_path, rollback_on_failure=word)["rollback-on-failure"]


def test_lists_accept_commas_and_newlines(tmp_path):
    cfg, _ = parse(tmp_path, smoke_imports="app,\n app.routes ,\n\nlib", required_env="A\nB,C")
    assert cfg.gates.smoke_imports == ("app", "app.routes", "lib")
    assert cfg.gates.required_env == ("A", "B", "C")


def test_targets_group_values_by_key(tmp_path):
    cfg, errors = parse(tmp_path, mode="deploy", targets="tag:App=web\ntag:App=api, tag:Env=prod",
                        app_directory="C:\\apps\\web", aws_region="us-east-1")
    assert errors == []
    assert cfg.deploy.targets.targets == (("tag:App", ("web", "api")), ("tag:Env", ("prod",)))


def test_all_problems_are_reported_at_once(tmp_path):
    found = errors_for(tmp_path, mode="bogus", platform="macos", coverage_threshold="120",
                       instance_ids="i-123", max_concurrency="0", delivery_timeout="-5")
    assert set(found) == {"mode", "platform", "coverage-threshold", "instance-ids", "max-concurrency",
                          "delivery-timeout"}
    assert "gates, deploy, all" in found["mode"]


def test_gate_names_are_checked(tmp_path):
    assert "not a gate" in errors_for(tmp_path, gates="tests, mypy")["gates"]
    cfg, _ = parse(tmp_path, gates="flake8,tests", blocking_gates="")
    assert cfg.gates.gates == ("tests", "flake8") and cfg.gates.blocking_gates == ()


@pytest.mark.parametrize("value", ["3", "3.12.1", "python3.12", "py312", "3.123"])
def test_python_version_is_major_minor(tmp_path, value):
    assert "must be a Python as major.minor, e.g. 3.12" in errors_for(tmp_path, python_version=value)["python-version"]


def test_python_version_reaches_the_gates(tmp_path):
    assert parse(tmp_path)[0].gates.python_version == ""
    assert parse(tmp_path, python_version=" 3.12 ")[0].gates.python_version == "3.12"


@pytest.mark.parametrize("value", ["100", "25%", "1"])
def test_max_concurrency_forms(tmp_path, value):
    cfg, errors = parse(tmp_path, max_concurrency=value)
    assert errors == [] and cfg.deploy.targets.max_concurrency == value


def test_deploy_through_ssm_needs_exactly_one_way_to_target(tmp_path):
    both = dict(DEPLOY, targets="tag:App=web")
    assert "both are set" in errors_for(tmp_path, **both)["instance-ids"]
    neither = dict(DEPLOY, instance_ids="")
    assert "neither is set" in errors_for(tmp_path, **neither)["instance-ids"]
    cfg, errors = parse(tmp_path, **DEPLOY)
    assert errors == [] and cfg.deploy.targets.instance_ids == ("i-0123456789abcdef0",)


def test_app_directory_must_be_absolute_for_the_platform(tmp_path):
    assert "absolute windows path" in errors_for(tmp_path, **dict(DEPLOY, app_directory="/srv/web"))["app-directory"]
    cfg, errors = parse(tmp_path, **dict(DEPLOY, app_directory="/srv/web", platform="linux"))
    assert errors == [] and cfg.deploy.python_on_server == "python3"


def test_region_comes_from_the_environment_or_is_an_error(tmp_path):
    no_region = dict(DEPLOY, aws_region="")
    assert "AWS_REGION" in errors_for(tmp_path, **no_region)["aws-region"]
    cfg, errors = parse(tmp_path, {"AWS_REGION": "ap-south-1"}, mode="deploy", instance_ids="i-0123456789abcdef0",
                        app_directory="D:\\web")
    assert errors == [] and cfg.deploy.targets.aws_region == cfg.deploy.audit.aws_region == "ap-south-1"


def test_local_transport_needs_no_aws(tmp_path):
    cfg, errors = parse(tmp_path, mode="deploy", transport="local", app_directory="server/app")
    assert errors == [] and cfg.deploy.transport == "local"


def test_secret_values_are_never_shown_in_errors(tmp_path):
    cfg, errors = parse(tmp_path, github_token="ghp_abc", safety_api_key="key-123", mode="nope")
    assert all("ghp_abc" not in str(e) and "key-123" not in str(e) for e in errors)
    cfg, _ = parse(tmp_path, github_token="ghp_abc", safety_api_key="key-123")
    assert "ghp_abc" not in repr(cfg) and "key-123" not in repr(cfg)
    assert "ghp_abc" not in repr(cfg.deploy.github) and "key-123" not in repr(cfg.gates)


def test_relative_paths_cannot_escape(tmp_path):
    found = errors_for(tmp_path, requirements_file="../secrets.txt", app_entry="/etc/passwd")
    assert set(found) == {"requirements-file", "app-entry"}


def test_missing_working_directory(tmp_path):
    assert "not a folder" in errors_for(tmp_path, working_directory="nope")["working-directory"]


def test_environment_map_pairs(tmp_path):
    assert "branch=environment" in errors_for(tmp_path, environment_map="dev:development")["environment-map"]
    cfg, _ = parse(tmp_path, environment_map="release = staging\nhotfix=production")
    assert cfg.deploy.environment_map == (("release", "staging"), ("hotfix", "production"))


def test_tool_arguments_use_shell_quoting(tmp_path):
    cfg, _ = parse(tmp_path, pytest_args="-k 'not slow' -x")
    assert cfg.gates.pytest_args == ("-k", "not slow", "-x")
    assert "quotes" in errors_for(tmp_path, flake8_args="--select 'E1")["flake8-args"]


def test_cli_default_token_is_the_environment_token():
    raw = config.raw_inputs({"GITHUB_TOKEN": "t0k"})
    assert raw["github-token"] == "t0k"
    assert config.raw_inputs({"INPUT_GITHUB-TOKEN": "runner"})["github-token"] == "runner"


def test_the_gates_section_holds_no_github_token(tmp_path):
    cfg, _ = parse(tmp_path, github_token="ghp_abc")
    assert "github_token" not in {f.name for f in dataclasses.fields(cfg.gates)}
    assert "ghp_abc" not in repr(dataclasses.astuple(cfg.gates))


@pytest.mark.parametrize("name,value,problem", [
    ("venv-directory", "..", "venv_dir must not be app_dir or one of its parents"),
    ("backup-directory", "backups", "backup_dir must be absolute (or empty)"),
    ("git-remote", "fd::3", "git_remote must be a URL (https, ssh, git, file), user@host:path, a path or a remote "
     "name, not a transport helper (ext::, fd::) or an option"),
    ("git-remote", "ext::sh -c id", "git_remote must be a URL (https, ssh, git, file), user@host:path, a path or a "
     "remote name, not a transport helper (ext::, fd::) or an option"),
])
def test_the_agents_own_checks_run_at_config_time(tmp_path, name, value, problem):
    found = errors_for(tmp_path, **dict(DEPLOY, **{name.replace("-", "_"): value}))
    assert found == {name: f"is refused by the deploy agent: {problem}."}


def test_an_input_with_its_own_error_is_not_reported_twice(tmp_path):
    found = errors_for(tmp_path, **dict(DEPLOY, app_entry="../x"))
    assert found == {"app-entry": "must be a path relative to the repository, without '..'."}


@pytest.mark.parametrize("value", ["audit\nX-Injected: 1", "pre fix", "a\tb", "x/../y", "a//b", "préfixe", "a?b",
                                   "x" * 513])
def test_s3_key_prefix_takes_safe_key_characters_only(tmp_path, value):
    assert "s3-key-prefix" in errors_for(tmp_path, s3_key_prefix=value)


def test_a_good_s3_key_prefix_loses_only_its_outer_slashes(tmp_path):
    cfg, errors = parse(tmp_path, s3_key_prefix="/ssm-deploy/web_1.(prod)/")
    assert errors == [] and cfg.deploy.audit.s3_key_prefix == "ssm-deploy/web_1.(prod)"


def test_an_invalid_platform_is_the_only_error_about_the_platform(tmp_path):
    assert errors_for(tmp_path, **dict(DEPLOY, platform="bsd", app_directory="/srv/web")) == {
        "platform": "must be one of: windows, linux."}


@pytest.mark.parametrize(("name", "value"), [("stop-timeout", "101%"), ("stop-timeout", "10%"), ("start-grace", "5%")])
def test_only_a_percentage_input_takes_a_percent_sign(tmp_path, name, value):
    assert name in errors_for(tmp_path, **{name.replace("-", "_"): value})


def test_coverage_threshold_still_takes_a_percent_sign(tmp_path):
    cfg, errors = parse(tmp_path, coverage_threshold="80%")
    assert errors == [] and cfg.gates.coverage_threshold == 80


def test_a_working_directory_name_over_255_bytes_is_an_input_error(tmp_path):
    message = errors_for(tmp_path, working_directory="a" * 300)["working-directory"]
    assert message.startswith("is not a folder (File name too long); give a path relative to the workspace")
