"""moto in server mode with the app's secrets and instance roles, moto's IAM auth on, and the
IMDSv2 stand-in serving a role's STS credentials: the AWS a server's agent sees, on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
import requests

from ssm_action.agent import aws
from tests.agent.imds_standin import ImdsStandIn

DB_URL = "postgresql://app:s3cr3t-pw@db.internal:5432/notes"
API_KEY = "ak-7f3e9c1d2b4a"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "ec2.amazonaws.com"}}]}
REFS = "DB_URL=ssm:/app/db-url\nAPI_KEY=secretsmanager:app/keys#api_key\n"


@dataclass
class World:
    moto: str
    imds: ImdsStandIn
    roles: dict[str, dict[str, str]]  # role name -> its STS credentials

    def client(self, role: str = "app-role", env: dict[str, str] | None = None, sleep=lambda seconds: None,
               **changed: str) -> aws.Aws:
        """The agent's AWS client on this instance, its role's credentials served by IMDS."""
        self.imds.role = role
        self.imds.credentials = {**self.roles[role], **changed}
        return aws.Aws({"AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds.url, "AWS_ENDPOINT_URL": self.moto,
                        **(env or {})}, sleep=sleep)


def role_credentials(iam, sts, name: str, actions: list[str]) -> dict[str, str]:
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=name, PolicyName="app-secrets", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::123456789012:role/{name}",
                            RoleSessionName="i-0123456789abcdef0")["Credentials"]
    return {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
            "Token": creds["SessionToken"]}


@pytest.fixture(name="world")
def world_fixture(aws: dict[str, str], moto_endpoint: str) -> Iterator[World]:
    """moto with a SecureString, JSON and text secrets and two roles, moto's auth on; IMDS."""
    clients = {name: boto3.client(name, endpoint_url=moto_endpoint, region_name="us-east-1")
               for name in ("ssm", "secretsmanager", "iam", "sts")}
    clients["ssm"].put_parameter(Name="/app/db-url", Value=DB_URL, Type="SecureString")
    clients["secretsmanager"].create_secret(
        Name="app/keys", SecretString=json.dumps({"api_key": API_KEY, "port": 5432}))
    clients["secretsmanager"].create_secret(Name="app/plain", SecretString="just-text-value")
    roles = {
        "app-role": role_credentials(clients["iam"], clients["sts"], "app-role",
                                     ["ssm:GetParameter", "secretsmanager:GetSecretValue"]),
        "ssm-only": role_credentials(clients["iam"], clients["sts"], "ssm-only", ["ssm:GetParameter"]),
    }
    requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    try:
        with ImdsStandIn() as imds:
            yield World(moto_endpoint, imds, roles)
    finally:
        requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"inf", timeout=10).raise_for_status()
