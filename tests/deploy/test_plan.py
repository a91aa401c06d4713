"""Plan building: the agent's parameters from the config's sections, checked by the contract."""

from __future__ import annotations

import dataclasses
import os

import pytest

from ssm_action import transports
from ssm_action.deploy import model, plan
from ssm_action.errors import ActionError
from tests import factories
from tests.ssm.conftest import CTX

SSM = dict(instance_ids="i-0123456789abcdef0", app_directory="C:\\apps\\web", aws_region="us-east-1")


def test_every_parameter_comes_from_its_input(tmp_path):
    cfg = factories.deploy_config(tmp_path, **SSM, git_remote="https://git.example/app.git", app_entry="src/app.py",
                                  venv_directory="venv", health_check_url="http://localhost:8000/health",
                                  health_check_timeout="30", backup_directory="D:\\backups", backup_retention="3",
                                  rollback_on_failure="false", server_installer="uv", hooks_directory="hooks")
    params = plan.build(cfg, CTX, "production").params.to_json()
    assert params == {**params, "deploy_id": "4242-1", "app_dir": "C:\\apps\\web", "sha": CTX.sha, "branch": "main",
                      "git_remote": "https://git.example/app.git", "entry": "src/app.py", "venv_dir": "venv",
                      "health_url": "http://localhost:8000/health", "health_timeout": 30,
                      "backup_dir": "D:\\backups", "backup_retention": 3, "rollback_on_failure": False,
                      "installer": "uv", "hooks_dir": "hooks", "platform": "windows",
                      "requirements_file": "requirements.txt"}


def test_the_local_transport_owns_its_rules(tmp_path):
    cfg = factories.deploy_config(tmp_path, transport="local", app_directory="srv/app", backup_directory="bk",
                                  platform="windows")
    params = plan.agent_params(cfg, CTX)
    assert params["app_dir"] == os.path.abspath("srv/app") and params["backup_dir"] == os.path.abspath("bk")
    assert params["platform"] == ("windows" if os.name == "nt" else "linux")  # this machine's, not the input


def test_the_plan_carries_the_zipapp_and_the_sections(tmp_path):
    cfg = factories.deploy_config(tmp_path, **SSM, dry_run="true")
    made = plan.build(cfg, CTX, "staging")
    assert (made.environment, made.transport, made.dry_run) == ("staging", "ssm", True)
    assert len(made.payload.sha256) == 64 and made.targets is cfg.targets and made.python_on_server == "python"


def test_a_branch_the_agent_refuses_stops_before_any_call(tmp_path):
    cfg = factories.deploy_config(tmp_path, **SSM)
    with pytest.raises(ActionError, match="branch is not a valid branch name") as caught:
        plan.build(cfg, dataclasses.replace(CTX, branch="-x"), "production")
    assert caught.value.title == "Invalid deploy parameters"


def test_secret_parameters_are_hidden_when_shown(tmp_path, monkeypatch):
    made = plan.build(factories.deploy_config(tmp_path, **SSM), CTX, "production")
    monkeypatch.setitem(model.BY_NAME, "app_env", model.BY_NAME["app_env"]._replace(secret=True))
    with_env = dataclasses.replace(made.params, app_env={"TOKEN": "s3cret"})
    shown = dataclasses.replace(made, params=with_env).shown_params()
    assert shown["app_env"] == {"TOKEN": "(hidden)"} and shown["sha"] == CTX.sha


def test_app_env_and_secret_references_are_data_no_secret_value_travels(tmp_path):
    cfg = factories.deploy_config(tmp_path, **SSM, app_env="MODE=prod", app_secrets="DB_URL=ssm:/app/db")
    shown = plan.build(cfg, CTX, "production").shown_params()
    assert (shown["app_env"], shown["app_secrets"]) == ({"MODE": "prod"}, {"DB_URL": "ssm:/app/db"})


def test_a_registered_transport_is_found_by_name():
    class Echo:
        name = "ssm"

        def adapt(self, params):
            return {**params, "adapted": True}

        def run(self, plan):
            raise AssertionError("not run here")

    transports.register("ssm", Echo)
    try:
        assert transports.get("ssm").adapt({})["adapted"] is True
    finally:
        transports.unregister("ssm")
    assert type(transports.get("ssm")).__name__ == "SsmTransport"
