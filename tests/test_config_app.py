"""The app's inputs: start command, environment, secret references, host, health answer; every problem at once."""

from pathlib import Path

from ssm_action.deploy import plan
from tests.factories import deploy_config, parse
from tests.ssm.conftest import CTX

DEPLOY = dict(mode="deploy", instance_ids="i-0123456789abcdef0", app_directory="/srv/notes", platform="linux",
              aws_region="eu-west-1")
SECRETS = "# the database\nDB_URL=ssm:/notes/db-url\n\nAPI_KEY=secretsmanager:notes/keys#api_key\n"


def errors_for(tmp_path: Path, **inputs: str) -> dict[str, list[tuple[str, str]]]:
    cfg, errors = parse(tmp_path, **dict(DEPLOY, **inputs))
    assert cfg is None
    found: dict[str, list[tuple[str, str]]] = {}
    for error in errors:
        found.setdefault(error.input, []).append((error.value, error.message))
    return found


def test_the_app_inputs_become_the_agents_parameters(tmp_path: Path):
    cfg = deploy_config(tmp_path, **DEPLOY, app_command="waitress-serve --listen=127.0.0.1:8000 'app:app'",
                        app_env="LOG_LEVEL=info\nGREETING=a=b, c", app_secrets=SECRETS, app_host="service",
                        app_user="notes", stop_timeout="30", start_grace="0.5", health_check_status="200, 204",
                        health_check_contains='"status": "ok"')
    params = plan.build(cfg, CTX, "production").params.to_json()
    assert params["app_command"] == ["waitress-serve", "--listen=127.0.0.1:8000", "app:app"]
    assert params["app_env"] == {"LOG_LEVEL": "info", "GREETING": "a=b, c"}
    assert params["app_secrets"] == {"DB_URL": "ssm:/notes/db-url", "API_KEY": "secretsmanager:notes/keys#api_key"}
    assert (params["app_host"], params["app_user"], params["stop_timeout"], params["start_grace"]) == (
        "service", "notes", 30, 0.5)
    assert (params["health_status"], params["health_contains"]) == ("200,204", '"status": "ok"')


def test_the_defaults_keep_todays_behaviour(tmp_path: Path):
    params = plan.build(deploy_config(tmp_path, **DEPLOY), CTX, "production").params.to_json()
    assert (params["app_command"], params["app_env"], params["app_secrets"], params["app_host"]) == (
        [], {}, {}, "process")
    assert (params["health_status"], params["stop_timeout"], params["start_grace"]) == ("2xx", 15, 2)


def test_every_bad_app_input_is_reported_at_once_naming_value_and_fix(tmp_path: Path):
    found = errors_for(tmp_path, app_command="../run.py --port 1", app_env="LOG_LEVEL=info\nnot a pair\nLOG_LEVEL=x",
                       app_secrets="DB_URL=vault:db\nAPI_KEY=secretsmanager:keys#\n1X=ssm:/a", app_host="docker",
                       app_user="notes", stop_timeout="-1", start_grace="soon", health_check_status="ok")
    assert found["app-env"] == [
        ("not a pair", "line 2 is not KEY=VALUE with a variable name as KEY, e.g. LOG_LEVEL=info."),
        ("LOG_LEVEL=x", "line 3 sets LOG_LEVEL again; give each variable once.")]
    assert [value for value, _ in found["app-secrets"]] == ["DB_URL=vault:db", "API_KEY=secretsmanager:keys#",
                                                            "1X=ssm:/a"]
    first = found["app-secrets"][0][1]
    assert first.startswith("line 1: DB_URL: 'vault:db' is not a secret reference: use ssm:/path/to/parameter")
    assert found["app-host"] == [("docker", "must be one of: process, service, task.")]
    assert found["app-user"] == [("notes", "is used only with app-host: service (or task); set app-host: "
                                           "service, or clear app-user.")]
    assert set(found) >= {"stop-timeout", "start-grace"}
    cfg_errors = errors_for(tmp_path, app_command="../run.py --port 1", health_check_status="ok")
    assert cfg_errors["app-command"][0][1].startswith("is refused by the deploy agent: app_command must start with")
    assert cfg_errors["health-check-status"] == [("ok", "is refused by the deploy agent: health_status must list "
                                                        "codes or ranges, e.g. 2xx or 200,204 or 200-399.")]


def test_a_variable_in_both_env_and_secrets_is_refused(tmp_path: Path):
    found = errors_for(tmp_path, app_env="DB_URL=local", app_secrets="DB_URL=ssm:/notes/db-url")
    assert found == {"app-secrets": [("DB_URL=ssm:/notes/db-url", "is refused by the deploy agent: app_secrets and "
                                                                  "app_env name the same variable: keep one.")]}


def test_app_command_replaces_app_entry(tmp_path: Path):
    assert parse(tmp_path, **dict(DEPLOY, app_entry="", app_command="-m uvicorn notes.main:app"))[1] == []
    assert "app-entry" in errors_for(tmp_path, app_entry="")


def test_app_host_task_is_windows_only_and_windows_service_accounts_are_accepted(tmp_path: Path):
    found = errors_for(tmp_path, app_host="task")
    assert found["app-host"] == [("task", "is refused by the deploy agent: app_host task is a Windows Scheduled "
                                          "Task: on Linux use service.")]
    windows = dict(DEPLOY, app_directory="C:\\apps\\notes", platform="windows")
    for host, user in (("task", ""), ("service", "NT SERVICE\\ssm-app-notes"), ("service", "CORP\\svc-notes$")):
        params = plan.build(deploy_config(tmp_path, **dict(windows, app_host=host, app_user=user)), CTX,
                            "production").params.to_json()
        assert (params["app_host"], params["app_user"]) == (host, user)
