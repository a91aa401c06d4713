"""App secrets resolved by the agent's own AWS code from moto in server mode, over HTTP, with role
credentials from the IMDSv2 stand-in. moto's IAM auth is ON in these tests: it checks the agent's
SigV4 signature with the role's keys and evaluates the role's policy (real AccessDenied)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from ssm_action import payload
from ssm_action.agent import aws, secrets
from ssm_action.agent.errors import StepError
from ssm_action.contract import SecretRef, parse_secret_lines
from tests.agent.aws_world import API_KEY, DB_URL, REFS, World, world_fixture  # noqa: F401 # fixture "world"

PY38 = "/root/.pyenv/versions/3.8.18/bin/python"


def refs(text: str = REFS) -> dict[str, SecretRef]:
    parsed, errors = parse_secret_lines(text)
    assert not errors
    return parsed


def failure(world: World, text: str, role: str = "app-role", **changed: str) -> str:
    with pytest.raises(StepError) as caught:
        secrets.resolve(refs(text), world.client(role, **changed))
    return str(caught.value)


def test_a_securestring_and_a_json_key_through_imdsv2(world: World):
    assert secrets.resolve(refs(), world.client()) == {"DB_URL": DB_URL, "API_KEY": API_KEY}
    paths = [(method, path) for method, path, status in world.imds.requests if status == 200]
    assert paths[0] == ("PUT", "/latest/api/token")
    assert ("GET", "/latest/meta-data/iam/security-credentials/app-role") in paths
    # No region in the environment: it came from the instance identity document.
    assert ("GET", "/latest/dynamic/instance-identity/document") in paths


def test_a_whole_secret_and_a_non_string_json_value(world: World):
    assert secrets.resolve(refs("A=secretsmanager:app/plain\nB=secretsmanager:app/keys#port"),
                           world.client()) == {"A": "just-text-value", "B": "5432"}


def test_the_stand_in_refuses_a_get_without_the_imdsv2_token(world: World):
    assert requests.get(world.imds.url + "/latest/meta-data/iam/security-credentials/",
                        timeout=5).status_code == 401


def test_moto_checks_the_signature(world: World):
    message = failure(world, "DB_URL=ssm:/app/db-url", SecretAccessKey="not-the-role-key")
    assert "SignatureDoesNotMatch" in message or "InvalidSignature" in message, message


def test_a_missing_parameter_and_a_missing_json_key_are_named(world: World):
    message = failure(world, "DB_URL=ssm:/app/missing\nAPI_KEY=secretsmanager:app/keys#apikey")
    assert "DB_URL (ssm:/app/missing): not found in us-east-1" in message
    assert "API_KEY (secretsmanager:app/keys#apikey): the secret's JSON has no key 'apikey' " \
           "(it has: api_key, port)" in message
    assert API_KEY not in message and "5432" not in message


def test_a_denied_call_names_the_action_and_resource_to_allow(world: World):
    message = failure(world, REFS, role="ssm-only")
    assert message.startswith("app secrets: API_KEY (secretsmanager:app/keys): access denied: allow "
                              "secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:"
                              "123456789012:secret:app/keys-?????? in the instance role's policy"), message
    assert "DB_URL" not in message  # the parameter it may read was read


def test_no_role_on_the_instance(world: World):
    client = world.client()
    world.imds.role = None
    with pytest.raises(StepError, match="the instance has no IAM role"):
        secrets.resolve(refs(), client)


def test_no_metadata_service(world: World):
    client = aws.Aws({"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9", "AWS_REGION": "us-east-1"})
    with pytest.raises(StepError, match=r"instance metadata \(IMDSv2\) at http://127.0.0.1:9"):
        secrets.resolve(refs(), client)


class ThrottlingSsmStandIn:
    """Stands in for SSM's endpoint: ThrottlingException ``throttles`` times, then a value."""

    def __init__(self, throttles: int) -> None:
        self.left = throttles
        self.targets: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                standin.targets.append(self.headers["X-Amz-Target"])
                standin.left -= 1
                status, body = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"}) \
                    if standin.left >= 0 else (200, {"Parameter": {"Value": "after-the-throttle"}})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize("throttles,outcome", [(2, "value"), (3, "error")])
def test_throttling_is_retried_a_bounded_number_of_times(world: World, throttles: int, outcome: str):
    ssm = ThrottlingSsmStandIn(throttles)
    pauses: list[float] = []
    client = world.client(env={"AWS_ENDPOINT_URL_SSM": ssm.url}, sleep=pauses.append)
    try:
        if outcome == "value":
            assert secrets.resolve(refs("DB_URL=ssm:/app/db-url"), client) == {"DB_URL": "after-the-throttle"}
        else:
            with pytest.raises(StepError, match="DB_URL \\(ssm:/app/db-url\\): AmazonSSM.GetParameter failed: "
                               "ThrottlingException: Rate exceeded"):
                secrets.resolve(refs("DB_URL=ssm:/app/db-url"), client)
    finally:
        ssm.server.shutdown()
    assert ssm.targets == ["AmazonSSM.GetParameter"] * 3 and len(pauses) == 2


def test_resolution_under_python_3_8(world: World, tmp_path: Path):
    if not os.path.exists(PY38):
        pytest.skip(f"NO PYTHON 3.8 at {PY38}: secret resolution NOT run under the oldest Python")
    agent = payload.write(tmp_path, frozenset({"secrets"}))  # the zipapp as shipped: its modules, a stub package marker
    client = world.client()
    script = ("import json, sys; from ssm_action.agent import aws, secrets; "
              "from ssm_action.contract.secret_refs import parse_secret_ref; "
              "refs = {k: parse_secret_ref(v) for k, v in (l.split('=', 1) for l in sys.argv[1].splitlines())}; "
              "print(sys.version_info[:2], json.dumps(secrets.resolve(refs, aws.Aws(json.loads(sys.argv[2])))))")
    done = subprocess.run([PY38, "-c", script, REFS, json.dumps(client.env)], capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(agent), "PATH": os.environ["PATH"]})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 8) " + json.dumps({"DB_URL": DB_URL, "API_KEY": API_KEY})
