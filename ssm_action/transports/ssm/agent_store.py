"""The deploy agent in S3: stored once per version under its sha256, fetched by a presigned URL.

With ``s3-bucket`` set, the command carries a ticket (bootstrap.ticket) instead of the
agent, so its size no longer grows with the agent's code. The agent is stored at
``<s3-key-prefix>/agent/<sha256>.pyz``: a re-run of the same action version uploads
nothing. The servers need no permission of their own (the URL is signed with the
runner's role) and check the bytes against the sha256 in the command before they run
them. The runner's role needs ``s3:PutObject`` on that prefix (``s3:GetObject``, which
signs the URL, is already granted on the output prefix).

A presigned URL stops working when the role session that signed it ends, whatever its
expiry says: a rollout longer than the session (one hour by default for an OIDC role)
needs ``role-duration-seconds`` in aws-actions/configure-aws-credentials.
"""

from __future__ import annotations

import base64
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ssm_action.deploy.artifact_store import refused, stored_size
from ssm_action.payload import Payload

URL_EXPIRY = 12 * 3600  # seconds: the waves of a long rollout start hours after the first
# A role session's presigned URL is about this long; the dry run's stand-in has the same size.
STAND_IN_QUERY = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + "x" * 1_300


def key(prefix: str, agent: Payload) -> str:
    return "/".join(part for part in (prefix.strip("/"), "agent", f"{agent.sha256}.pyz") if part)


def stand_in_url(bucket: str, prefix: str, agent: Payload) -> str:
    """What a dry run's command carries in place of the URL: no credentials are needed to measure it."""
    return f"https://{bucket}.s3.amazonaws.com/{key(prefix, agent)}?{STAND_IN_QUERY}"


def publish(s3: Any, bucket: str, prefix: str, agent: Payload) -> str:
    """Store ``agent`` unless it is there; the presigned GET URL the servers fetch it with."""
    where = key(prefix, agent)
    if stored_size(s3, bucket, where, prefix) != len(agent.data):
        try:
            s3.put_object(Bucket=bucket, Key=where, Body=agent.data, ContentType="application/zip",
                          ChecksumSHA256=base64.b64encode(bytes.fromhex(agent.sha256)).decode(),
                          Metadata={"sha256": agent.sha256})
        except (BotoCoreError, ClientError) as exc:
            raise refused("PutObject", f"s3://{bucket}/{where}", exc, bucket, prefix, "agent") from exc
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": where},
                                         ExpiresIn=URL_EXPIRY)
    return url
