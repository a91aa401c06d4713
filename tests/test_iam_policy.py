"""The IAM policies in docs/iam allow every AWS call the code makes, and nothing broader."""

import json
import re

import boto3
import pytest

from tests.conftest import ROOT

IAM = ROOT / "docs/iam"
SERVICES = ("ssm", "s3")


def operations() -> dict[str, str]:
    """boto3 method name -> IAM action, for the services the action talks to (no network)."""
    found = {}
    for service in SERVICES:
        client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        for method, api in client.meta.method_to_api_mapping.items():
            found[method] = f"{service}:{api}"
    return found


def calls_in_code() -> set[str]:
    """Every AWS operation the action's code calls, directly or through a paginator."""
    ops = operations()
    text = "\n".join(p.read_text() for p in (ROOT / "ssm_action").rglob("*.py") if p.parent.name != "agent")
    names = set(re.findall(r"\.([a-z_]+)\(", text)) | set(re.findall(r'get_paginator\("([a-z_]+)"\)', text))
    found = {ops[name] for name in names if name in ops and name not in ("get_paginator", "close")}
    # IAM has no s3:HeadObject: a HEAD (and a presigned GET) is allowed by s3:GetObject.
    return {"s3:GetObject" if action == "s3:HeadObject" else action for action in found}


def statements(name: str) -> list[dict]:
    return json.loads((IAM / name).read_text())["Statement"]


def as_list(value) -> list[str]:
    return value if isinstance(value, list) else [value]


def allowed_actions(name: str) -> set[str]:
    return {a for s in statements(name) if s["Effect"] == "Allow" for a in as_list(s["Action"])}


def test_the_code_calls_what_the_docs_say():
    assert calls_in_code() == {
        "ssm:SendCommand", "ssm:CancelCommand", "ssm:ListCommands", "ssm:ListCommandInvocations",
        "ssm:GetCommandInvocation", "ssm:DescribeInstanceInformation", "s3:GetObject", "s3:PutObject",
    }


def test_runner_policy_allows_every_call_and_nothing_else():
    assert allowed_actions("runner-policy.json") == calls_in_code()


def test_no_wildcard_actions_anywhere():
    for path in IAM.glob("*.json"):
        for statement in statements(path.name):
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{path.name}: {action}"


def test_send_command_is_limited_to_two_documents_and_tagged_instances():
    sends = [s for s in statements("runner-policy.json") if "ssm:SendCommand" in as_list(s["Action"])]
    resources = {r for s in sends for r in as_list(s["Resource"])}
    assert "*" not in resources
    documents = {r.rsplit("/", 1)[1] for r in resources if ":document/" in r}
    assert documents == {"AWS-RunPowerShellScript", "AWS-RunShellScript"}
    for statement in sends:
        if any(":instance/" in r or ":managed-instance/" in r for r in as_list(statement["Resource"])):
            assert statement["Condition"]["StringEquals"]["aws:ResourceTag/DeployTarget"] == "true"


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject"])
def test_s3_access_is_limited_to_the_log_prefix(action):
    for name in ("runner-policy.json", "instance-profile-policy.json"):
        for statement in statements(name):
            if action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    assert resource.startswith("arn:aws:s3:::DEPLOY_LOG_BUCKET/ssm-deploy/"), resource


def test_oidc_trust_is_scoped_to_one_repository_its_environments_and_deploy_branches():
    (statement,) = statements("oidc-trust-policy.json")
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]
    assert condition["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = condition["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert all(s.startswith(("repo:OWNER/REPOSITORY:environment:", "repo:OWNER/REPOSITORY:ref:refs/heads/"))
               for s in subjects)
    assert not any("*" in s for s in subjects), "no wildcard subjects: a fork's pull request must not match"


def test_the_instance_profile_allows_what_the_agent_calls_for_app_secrets_on_the_apps_own_resources():
    from ssm_action.agent import secrets  # the agent's calls: GetParameter, GetSecretValue
    allowed = allowed_actions("instance-profile-policy.json")
    assert set(secrets.ACTION.values()) | {"kms:Decrypt"} <= allowed
    for statement in statements("instance-profile-policy.json"):
        for resource in as_list(statement["Resource"]):
            assert resource != "*" and not resource.endswith(":*"), resource
        if statement["Action"] in secrets.ACTION.values():
            assert as_list(statement["Resource"])[0].endswith("APP_NAME/*")  # one app's names, not the account's
        if statement["Action"] == "kms:Decrypt":  # only through the two services, with the app's key
            assert set(statement["Condition"]["StringEquals"]["kms:ViaService"]) == {
                "ssm.REGION.amazonaws.com", "secretsmanager.REGION.amazonaws.com"}
