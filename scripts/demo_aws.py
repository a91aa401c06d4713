"""The demo's AWS, on 127.0.0.1: moto in server mode holding the sample app's secrets, and the IMDSv2 stand-in
that gives the "instance" its role's credentials. Run by scripts/demo.sh, which stops it by its PID.

    python scripts/demo_aws.py ENV_FILE

Writes ENV_FILE (shell ``export`` lines: the AWS SDKs' endpoint variables the agent honours) once both
answer, then serves until it is stopped. The values are demo values, made up for the demo.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.agent.imds_standin import ImdsStandIn  # noqa: E402 # the repository root is on the path now

REGION = "us-east-1"
DATABASE_URL = "postgresql://notes:demo-db-password-1@db.demo.internal:5432/notes"
API_KEY = "demo-api-key-4f1c9e"


def seed(endpoint: str) -> None:
    keys = {"endpoint_url": endpoint, "region_name": REGION, "aws_access_key_id": "demo",
            "aws_secret_access_key": "demo"}
    boto3.client("ssm", **keys).put_parameter(Name="/notes/database-url", Value=DATABASE_URL, Type="SecureString")
    boto3.client("secretsmanager", **keys).create_secret(Name="notes/api", SecretString=json.dumps({"key": API_KEY}))


def main(env_file: str) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines would fill the demo's output
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    seed(endpoint)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with ImdsStandIn(REGION) as imds:
        imds.credentials = {"AccessKeyId": "demo", "SecretAccessKey": "demo", "Token": "demo"}
        Path(env_file).write_text(f"export AWS_EC2_METADATA_SERVICE_ENDPOINT={imds.url}\n"
                                  f"export AWS_ENDPOINT_URL={endpoint}\nexport AWS_REGION={REGION}\n")
        stopped.wait()
    moto.stop()


if __name__ == "__main__":
    main(sys.argv[1])
