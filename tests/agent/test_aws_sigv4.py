"""The agent's SigV4 signature equals botocore's ``SigV4Auth`` for the same request, time and keys
(moto does not check signatures unless its auth is on, so this is the check of the signing)."""

from __future__ import annotations

import datetime

import pytest
from botocore import auth as botocore_auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from ssm_action.agent import aws

NOW = datetime.datetime(2026, 12, 1, 16, 4, 5, tzinfo=datetime.timezone.utc)
KEYS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="
JSON = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameter"}

CASES = [
    ("GET", "https://ssm.eu-west-1.amazonaws.com/", {}, b"", ""),
    ("POST", "https://ssm.eu-west-1.amazonaws.com/", JSON,
     b'{"Name": "/app/db-url", "WithDecryption": true}', TOKEN),
    ("POST", "http://127.0.0.1:5000/", JSON, b'{"Name": "/app/x"}', TOKEN),  # a port kept in Host
    ("GET", "https://example.amazonaws.com/a%20b/./c/../d%2Fe/caf%C3%A9/~x!y*z/", {}, b"", TOKEN),
    ("GET", "https://example.amazonaws.com/path//double?b=2&a=1&a=0&empty=&c=%20x", {}, b"", ""),
    ("POST", "https://secretsmanager.us-east-1.amazonaws.com:443/",
     {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue",
      "User-Agent": "not signed", "X-Custom": "  spaced   out  value "},
     '{"SecretId": "app/ünïcode"}'.encode(), TOKEN),
]


def botocore_headers(method: str, url: str, headers: dict[str, str], body: bytes, token: str,
                     region: str, service: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    botocore_auth.SigV4Auth(BotoCredentials(*KEYS, token or None), service, region).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("method,url,headers,body,token", CASES,
                         ids=["get", "post-token", "post-port", "special-path", "query", "extra-headers"])
def test_signature_equals_botocores(method, url, headers, body, token, monkeypatch):
    ours = aws.sign(method, url, headers, body, aws.Credentials(*KEYS, token), "eu-west-1", "ssm", NOW)
    theirs = botocore_headers(method, url, headers, body, token, "eu-west-1", "ssm", monkeypatch)
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"] == "20261201T160405Z"
    assert ours.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token")


def test_another_secret_key_or_time_changes_the_signature():
    creds = aws.Credentials(*KEYS, TOKEN)
    first = aws.sign("POST", CASES[1][1], JSON, CASES[1][3], creds, "eu-west-1", "ssm", NOW)
    other_key = aws.sign("POST", CASES[1][1], JSON, CASES[1][3], creds._replace(secret_key="x"),
                         "eu-west-1", "ssm", NOW)
    later = aws.sign("POST", CASES[1][1], JSON, CASES[1][3], creds, "eu-west-1", "ssm",
                     NOW + datetime.timedelta(seconds=1))
    assert len({first["Authorization"], other_key["Authorization"], later["Authorization"]}) == 3


def test_endpoints_follow_the_sdk_variables():
    assert aws.endpoint("ssm", "eu-west-1", {}) == "https://ssm.eu-west-1.amazonaws.com/"
    assert aws.endpoint("secretsmanager", "cn-north-1", {}) == \
        "https://secretsmanager.cn-north-1.amazonaws.com.cn/"
    both = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:2/"}
    assert aws.endpoint("ssm", "eu-west-1", both) == "http://127.0.0.1:2/"
    assert aws.endpoint("secretsmanager", "eu-west-1", both) == "http://127.0.0.1:1/"
    assert aws.endpoint("secretsmanager", "eu-west-1", {
        **both, "AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://vpce.example"}) == "https://vpce.example/"
