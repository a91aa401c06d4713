"""The IAM policies in docs/iam allow every AWS call the code makes, and nothing broader."""

import json
import re
from pathlib import Path

import boto3
import pytest

from tests.conftest import ROOT

IAM = ROOT / "docs/iam"
SERVICES = ("ssm", "s3", "elbv2", "cloudwatch")
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}  # IAM's name for the service, where boto3's differs


def operations() -> dict[str, str]:
    """boto3 method name -> IAM action, for the services the action talks to (no network)."""
    found = {}
    for service in SERVICES:
        client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        for method, api in client.meta.method_to_api_mapping.items():
            found.setdefault(method, f"{IAM_PREFIX.get(service, service)}:{api}")
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
        # behind a load balancer (target-groups, alarms)
        "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DeregisterTargets",
        "elasticloadbalancing:RegisterTargets", "cloudwatch:DescribeAlarms",
    }


def test_runner_policy_allows_every_call_and_nothing_else():
    assert allowed_actions("runner-policy.json") == calls_in_code()


def test_no_wildcard_actions_anywhere():
    for path in IAM.glob("*.json"):
        for statement in statements(path.name):
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{path.name}: {action}"


def test_send_command_is_limited_to_two_documents_and_the_environments_tagged_instances():
    sends = [s for s in statements("runner-policy.json") if "ssm:SendCommand" in as_list(s["Action"])]
    resources = {r for s in sends for r in as_list(s["Resource"])}
    assert "*" not in resources
    documents = {r.rsplit("/", 1)[1] for r in resources if ":document/" in r}
    assert documents == {"AWS-RunPowerShellScript", "AWS-RunShellScript"}
    for statement in sends:
        if any(":instance/" in r or ":managed-instance/" in r for r in as_list(statement["Resource"])):
            assert statement["Condition"]["StringEquals"] == {
                "aws:ResourceTag/DeployTarget": "true", "aws:ResourceTag/DeployEnvironment": "ENVIRONMENT"}


@pytest.mark.parametrize("action", ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"])
def test_taking_servers_out_of_service_is_limited_to_the_apps_target_groups(action):
    mine = "arn:aws:elasticloadbalancing:us-east-1:ACCOUNT_ID:targetgroup/APP_NAME-web/0123456789abcdef"
    other = "arn:aws:elasticloadbalancing:us-east-1:ACCOUNT_ID:targetgroup/billing-web/0123456789abcdef"
    assert allows("runner-policy.json", action, mine)
    assert not allows("runner-policy.json", action, other)


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject"])
def test_s3_access_is_limited_to_the_log_prefix(action):
    for name in ("runner-policy.json", "instance-profile-policy.json"):
        for statement in statements(name):
            if action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    assert resource.startswith("arn:aws:s3:::DEPLOY_LOG_BUCKET/ssm-deploy/"), resource


def test_oidc_trust_is_one_role_per_environment_of_one_repository():
    """The token's subject names the environment (a job that passed its protection rules), never a branch
    or a tag (one role for dev and production would let a dev job reach production's servers)."""
    (statement,) = statements("oidc-trust-policy.json")
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:OWNER/REPOSITORY:environment:ENVIRONMENT"}}


def test_the_instance_profile_allows_what_the_agent_calls_for_app_secrets_on_the_apps_own_resources():
    from ssm_action.agent import secrets  # the agent's calls: GetParameter, GetSecretValue
    allowed = allowed_actions("instance-profile-policy.json")
    assert set(secrets.ACTION.values()) | {"kms:Decrypt"} <= allowed
    for statement in statements("instance-profile-policy.json"):
        if statement["Action"] in secrets.ACTION.values():
            assert as_list(statement["Resource"])[0].endswith("APP_NAME/*")  # one app's names, not the account's
        if statement["Action"] == "kms:Decrypt":  # only through the two services, with the app's key
            assert set(statement["Condition"]["StringEquals"]["kms:ViaService"]) == {
                "ssm.REGION.amazonaws.com", "secretsmanager.REGION.amazonaws.com"}


def _matches(pattern: str, value: str) -> bool:
    """IAM's wildcards: * any run of characters, ? one character."""
    return re.fullmatch(".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*")),
                        value) is not None


def allows(name: str, action: str, resource: str) -> bool:
    """IAM's evaluation of one identity policy: an explicit Deny wins, else an Allow is needed."""
    effects = {s["Effect"] for s in statements(name)
               if any(_matches(a, action) for a in as_list(s["Action"]))
               and any(_matches(r, resource) for r in as_list(s["Resource"]))}
    return "Allow" in effects and "Deny" not in effects


LOG = "arn:aws:s3:::DEPLOY_LOG_BUCKET/ssm-deploy/"


@pytest.mark.parametrize("key", [
    "audit/production/20260101T120000Z-0123456789abcdef0123456789abcdef01234567.json",
    "audit/staging/any.json", "audit/x",
])
@pytest.mark.parametrize("action", ["s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl"])
def test_servers_cannot_write_or_delete_audit_records(key, action):
    """The instance profile writes command output under the prefix, but never under its audit/ folder."""
    assert not allows("instance-profile-policy.json", action, LOG + key)


@pytest.mark.parametrize("action", ["s3:PutObject", "s3:DeleteObject"])
def test_servers_cannot_plant_or_delete_an_artifact(action):
    """Artifacts live under the prefix servers write output to: one planted there would be reused
    by the next deploy of that commit (same key), so only the runner's role may write them."""
    from ssm_action.deploy.artifact import Artifact

    artifact = Artifact(Path("a.zip"), commit="0" * 40, sha256="f" * 64, size=1, files=(), wheels=())
    key = artifact.key("ssm-deploy")
    assert key.startswith("ssm-deploy/")
    assert not allows("instance-profile-policy.json", action, LOG + key[len("ssm-deploy/"):])


def test_servers_write_their_command_output_and_the_runner_writes_audit_records():
    output = "0b1c2d3e-aaaa-bbbb-cccc-0123456789ab/i-0123456789abcdef0/awsrunShellScript/0.awsrunShellScript/stdout"
    assert allows("instance-profile-policy.json", "s3:PutObject", LOG + output)
    assert allows("runner-policy.json", "s3:PutObject", LOG + "audit/production/x.json")
    assert allows("runner-policy.json", "s3:GetObject", LOG + output)


def test_the_audit_key_is_under_the_folder_servers_may_not_write():
    from ssm_action.deploy.audit import Record

    record = Record(actor="a", repository="o/r", ref="main", sha="0" * 40, environment="production",
                    targets=[], transport="ssm", run_url="", started_at="2026-01-01T12:00:00Z")
    assert not allows("instance-profile-policy.json", "s3:PutObject", LOG + record.s3_key("ssm-deploy")[11:])
    assert record.s3_key("ssm-deploy").startswith("ssm-deploy/audit/")


def test_servers_may_write_to_cloudwatch_logs_in_the_deploy_groups_only():
    group = "arn:aws:logs:REGION:ACCOUNT_ID:log-group:/ssm-deploy/web:log-stream:cmd/i-1/aws-runShellScript/stdout"
    assert allows("instance-profile-policy.json", "logs:PutLogEvents", group)
    assert not allows("instance-profile-policy.json", "logs:PutLogEvents",
                      "arn:aws:logs:REGION:ACCOUNT_ID:log-group:/other:log-stream:x")


# Actions AWS cannot scope to a resource (the Service Authorization Reference lists no resource type for
# them, or the agent's messaging channel has none): the only ones a policy here may allow on "*".
UNSCOPED = {
    "instance-profile-policy.json": {
        "ssm:UpdateInstanceInformation", "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage",
        "ec2messages:FailMessage", "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
        "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel", "logs:DescribeLogGroups"},
    # ELB's Describe calls take no resource; DescribeAlarms can be scoped, but then returns no composite alarm.
    "runner-policy.json": {"ssm:DescribeInstanceInformation", "ssm:ListCommands", "ssm:ListCommandInvocations",
                           "ssm:GetCommandInvocation", "ssm:CancelCommand",
                           "elasticloadbalancing:DescribeTargetGroups",
                           "elasticloadbalancing:DescribeTargetGroupAttributes",
                           "elasticloadbalancing:DescribeTargetHealth", "cloudwatch:DescribeAlarms"},
}


@pytest.mark.parametrize("name", sorted(UNSCOPED))
def test_a_star_resource_only_for_actions_aws_cannot_scope(name):
    for statement in statements(name):
        if statement["Effect"] == "Allow" and "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= UNSCOPED[name], statement["Sid"]


PARAMETER_READS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory")


@pytest.mark.parametrize("action", PARAMETER_READS)
def test_a_server_reads_its_apps_parameters_only(action):
    """No parameter read on "*" (AmazonSSMManagedInstanceCore allows GetParameter(s) on every parameter)."""
    other = "arn:aws:ssm:REGION:ACCOUNT_ID:parameter/OTHER_APP/db-password"
    for name in ("instance-profile-policy.json", "runner-policy.json"):
        assert not allows(name, action, other), (name, action)
        assert not allows(name, action, "*")
    assert allows("instance-profile-policy.json", "ssm:GetParameter",
                  "arn:aws:ssm:REGION:ACCOUNT_ID:parameter/APP_NAME/db-password")


def test_the_instance_profile_lets_the_ssm_agent_take_commands_without_the_managed_core_policy():
    allowed = allowed_actions("instance-profile-policy.json")
    assert {"ssm:UpdateInstanceInformation", "ec2messages:GetMessages", "ec2messages:SendReply",
            "ssmmessages:OpenControlChannel"} <= allowed
    docs = {p.name: p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}
    for name, text in docs.items():  # attaching it would give every server every parameter again
        assert not re.search(r"attach-role-policy[^\n]*\\?\n?[^\n]*AmazonSSMManagedInstanceCore", text), name
        assert not re.search(r"(?i)(profile|role|needs|requires) (with )?`?AmazonSSMManagedInstanceCore", text), name
