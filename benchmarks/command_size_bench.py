#!/usr/bin/env python3
"""The size of the SSM command (SendCommand parameters) against the limit this action keeps.

    .venv/bin/python benchmarks/command_size_bench.py

For the deploys that matter (default Linux and Windows; a service host from an artifact on
each; every optional agent module) it prints the zipapp's size, the agent as both bootstraps
carry it (xz + base64), the whole parameters and the room left under
request.PARAMETERS_LIMIT, both as the agent travels without s3-bucket (inline) and with it
(a ticket: the presigned URL of the agent in S3 and its sha256). Artifact deploys and the S3
ticket carry a role session's presigned URL (about 1.9 KB, as tests/ssm/test_request.py builds
it). A request over the limit is measured, not refused.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssm_action import payload  # noqa: E402
from ssm_action.deploy import plan  # noqa: E402
from ssm_action.transports.ssm import bootstrap, command  # noqa: E402
from ssm_action.transports.ssm import request as ssm_request  # noqa: E402
from tests import factories  # noqa: E402
from tests.ssm.conftest import BASE_INPUTS, CTX  # noqa: E402
from tests.ssm.test_request import presigned_url  # noqa: E402

APP_DIRS = {"windows": "C:\\apps\\octo", "linux": "/srv/octo"}
ARTIFACT = {"source": "artifact", "s3_bucket": "my-deploy-artifacts"}
SERVICE = {"app_host": "service", "app_secrets": "API_KEY=ssm:/octo/api-key\nDB_URL=secretsmanager:octo/db"}
INLINE, S3 = (False,), (True,)  # an artifact needs s3-bucket, so its agent always comes from S3
CASES: list[tuple[str, dict[str, str], frozenset[str] | None, tuple[bool, ...]]] = [
    ("default", {}, None, INLINE + S3),
    ("service+secrets", SERVICE, None, INLINE + S3),
    ("every module", SERVICE, payload.EXTRAS, INLINE),  # that an inline command can carry
    ("service+artifact", {**SERVICE, **ARTIFACT}, None, S3),
]


def measure(workspace: Path, platform: str, inputs: dict[str, str], extras: frozenset[str] | None,
            url: str, by_s3: bool) -> tuple[int, int, int]:
    """(zipapp bytes, carried agent chars, parameters bytes) of the deploy's request."""
    given = {**BASE_INPUTS, "instance_ids": "i-0123456789abcdef0", "platform": platform,
             "app_directory": APP_DIRS[platform], **inputs}
    if by_s3:
        given["s3_bucket"] = "my-deploy-artifacts"
    cfg = factories.deploy_config(workspace, None, **given)
    the_plan = plan.build(cfg, CTX, "production")
    if inputs.get("source") == "artifact":
        the_plan = dataclasses.replace(the_plan, params=dataclasses.replace(
            the_plan.params, artifact_url=url, artifact_sha256="a" * 64, artifact_size=123_456_789))
    if extras is not None and not by_s3:
        the_plan = dataclasses.replace(the_plan, payload=payload.build(extras & payload.inline_extras(platform)))
    data = command.script_payload(the_plan, agent_url=url if by_s3 else "")
    parameters = {"commands": bootstrap.commands(platform, data),
                  "executionTimeout": [str(cfg.targets.execution_timeout)]}
    size = len(json.dumps(parameters, separators=(",", ":")).encode("utf-8"))
    return data.agent_bytes, len(data.values[0]), size


def main() -> None:
    url = presigned_url(1_200)
    limit = ssm_request.PARAMETERS_LIMIT
    print(f"limit {limit:,} bytes; artifact deploys and the S3 ticket carry a presigned URL of {len(url):,} chars\n")
    print(f"{'deploy':<18} {'platform':<8} {'agent':<6} {'zipapp':>8} {'carried':>8} {'parameters':>10} {'room':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, inputs, extras, modes in CASES:
            for platform, by_s3 in ((platform, by_s3) for platform in APP_DIRS for by_s3 in modes):
                zipapp, carried, size = measure(Path(tmp), platform, inputs, extras, url, by_s3)
                print(f"{name:<18} {platform:<8} {'S3' if by_s3 else 'inline':<6} {zipapp:>8,} {carried:>8,} "
                      f"{size:>10,} {limit - size:>7,}" + ("  OVER THE LIMIT" if size > limit else ""))


if __name__ == "__main__":
    main()
