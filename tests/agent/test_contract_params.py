"""The typed parameters: each field knows its input, references are parsed once, a problem names its input,
and a JSON value that is not a parameter object is refused."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from ssm_action.contract import PARAMS, AgentParams, ParamProblem, SecretRef, checks, parse_params
from ssm_action.deploy import plan
from tests import factories
from tests.conftest import ROOT

LINUX = {"deploy_id": "1234567-1", "app_dir": "/srv/app", "sha": "a" * 40, "platform": "linux"}
FROM_THE_RUN = {"deploy_id", "sha", "branch", "python"}  # no input: the run (or the agent's own Python) sets them
WRONG_TYPE = {"str": 1, "number": "1", "int": 1.5, "bool": "true", "dict": [], "list": {}}


def test_every_parameter_with_an_input_names_a_real_input():
    inputs = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))["inputs"]
    assert {spec.name for spec in PARAMS if spec.input is None} == FROM_THE_RUN
    assert {spec.input for spec in PARAMS if spec.input} <= set(inputs)
    assert [f.name for f in dataclasses.fields(AgentParams)] == [spec.name for spec in PARAMS]


@pytest.mark.parametrize("spec", PARAMS, ids=lambda spec: spec.name)
def test_a_problem_names_its_parameter_and_its_input(spec):
    got, problems = parse_params(dict(LINUX, **{spec.name: WRONG_TYPE[spec.kind]}))
    assert got is None
    assert problems == [ParamProblem(spec.name, spec.input, problems[0].message)]
    assert problems[0].message.startswith(spec.name + " must be ")


def test_a_value_check_names_its_input_too():
    _, problems = parse_params(dict(LINUX, backup_dir="backups", health_url="ftp://x/", surprise=1))
    assert problems == [ParamProblem("surprise", None, "unknown parameter 'surprise'")]
    _, problems = parse_params(dict(LINUX, backup_dir="backups", health_url="ftp://x/", app_host="task"))
    assert [(p.param, p.input) for p in problems] == [("backup_dir", "backup-directory"),
                                                      ("health_url", "health-check-url"), ("app_host", "app-host")]


@pytest.mark.parametrize("raw", [None, [], "x", 1, True, [LINUX]])
def test_a_json_value_that_is_not_an_object_is_refused(raw):
    assert parse_params(raw) == (None, [ParamProblem("", None, "the parameters must be a JSON object")])


def test_references_are_parsed_once_into_typed_values_and_travel_as_written(monkeypatch):
    calls = []
    real = checks.parse_secret_ref
    monkeypatch.setattr(checks, "parse_secret_ref", lambda text: calls.append(text) or real(text))
    raw = dict(LINUX, app_secrets={"DB_URL": "ssm:/app/db", "KEY": "secretsmanager:app/keys#api_key"})
    got, problems = parse_params(raw)
    assert problems == [] and got is not None and len(calls) == 2
    assert got.app_secrets == {"DB_URL": SecretRef("ssm", "/app/db"),
                               "KEY": SecretRef("secretsmanager", "app/keys", "api_key")}
    assert got.to_json()["app_secrets"] == raw["app_secrets"]  # the JSON keeps the reference strings
    assert parse_params(got.to_json()) == (got, [])  # the JSON form parses back to the same parameters


def test_a_changed_copy_is_made_with_replace_and_a_secret_is_never_in_repr():
    got, _ = parse_params(dict(LINUX, source="artifact", artifact_url="https://s3/k?X-Amz-Signature=s",
                               artifact_sha256="b" * 64, artifact_size=10))
    assert got is not None and "X-Amz-Signature" not in repr(got)
    changed = dataclasses.replace(got, action="rollback")
    assert (changed.action, got.action) == ("rollback", "deploy")
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.sha = "c" * 40  # type: ignore[misc]


def test_the_runner_reports_a_problem_on_the_input_it_names(tmp_path):
    cfg = factories.deploy_config(tmp_path, instance_ids="i-0123456789abcdef0", aws_region="us-east-1",
                                  platform="linux", app_directory="/srv/app")
    # values the inputs' own checks would stop first: the agent's checks are the second line
    cfg = dataclasses.replace(cfg, server=dataclasses.replace(cfg.server, backup_directory="backups",
                                                              hooks_directory="/etc/hooks"))
    assert plan.input_errors(cfg) == [("hooks-directory", "hooks_dir must be relative to app_dir"),
                                      ("backup-directory", "backup_dir must be absolute (or empty)")]


def test_an_action_and_its_wording():
    from ssm_action.contract import Action
    from ssm_action.contract.checks import ACTIONS

    assert ACTIONS == tuple(a.value for a in Action) and Action("rollback") is Action.ROLLBACK
    assert [a.noun for a in Action] == ["Deploy", "Status", "Rollback"]
    assert Action.DEPLOY.doing % "abc" == "Deploying abc to" and Action.DEPLOY.done % "abc" == "Deployed abc to"
    assert Action.ROLLBACK.done == "Put the last good version back on"
