"""The SendCommand request(s): document, bootstrap, timeouts, rate control, output bucket and log group.

Rate control is the action's (rollout.py: waves over the whole fleet, one error
budget), so each request lets SSM send to all its instances at once and never
stop on its own: MaxConcurrency and MaxErrors are the request's size (or 100%).

Size limit. SSM counts a command's runtime parameters against the 64 KB quota of
its document: "The content of the document must not exceed 64KB. This quota
also includes the content specified for input parameters at runtime." (SSM API
reference, CreateDocument ``Content``; the same text is in botocore's ssm
service-2.json.) The AWS-Run*Script document itself takes about 1.5 KB, so the
parameters must stay under 64 KiB less a 4 KiB reserve.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from ssm_action.config.sections import TargetsConfig
from ssm_action.context import RunContext
from ssm_action.errors import ActionError
from ssm_action.transports.ssm import bootstrap

MAX_IDS_PER_CALL = 50  # SendCommand InstanceIds: at most 50 (Targets has no such limit)
DOCUMENT_QUOTA = 64 * 1024
DOCUMENT_RESERVE = 4 * 1024
PARAMETERS_LIMIT = DOCUMENT_QUOTA - DOCUMENT_RESERVE
COMMENT_MAX = 100


def instance_ids(cfg: TargetsConfig) -> list[str]:
    """The ids in the order given, each once (SendCommand rejects repeats)."""
    return list(dict.fromkeys(cfg.instance_ids))


def targets(cfg: TargetsConfig) -> list[dict[str, Any]]:
    """cfg.targets as SSM takes them: SendCommand Targets and DescribeInstanceInformation Filters alike."""
    return [{"Key": key, "Values": list(values)} for key, values in cfg.targets]


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def comment(ctx: RunContext, environment: str) -> str:
    text = f"ssm-deploy {ctx.sha[:12]} to {environment} by {ctx.actor} (run {ctx.deploy_id})"
    return text[:COMMENT_MAX]


def parameters_size(request: dict[str, Any]) -> int:
    """Bytes of the runtime parameters as they travel (JSON, UTF-8)."""
    return len(json.dumps(request["Parameters"], separators=(",", ":")).encode("utf-8"))


def check_size(request: dict[str, Any], data: bootstrap.Payload) -> None:
    size = parameters_size(request)
    if size <= PARAMETERS_LIMIT:
        return
    raise ActionError(
        "SSM request too large",
        f"The command's parameters are {size:,} bytes; SSM allows 64 KB for a document and its runtime "
        f"parameters together, so this action keeps them under {PARAMETERS_LIMIT:,} bytes. The agent takes "
        f"{len(data.agent_b64):,} bytes (xz+base64) and the deploy parameters {len(data.params_b64):,} "
        "bytes (base64): shorten the long inputs (app-directory, git-remote, health-check-url, paths).",
        anchor="sending-and-following-the-command",
    )


def _base(cfg: TargetsConfig, ctx: RunContext, environment: str, script_lines: list[str]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "DocumentName": bootstrap.DOCUMENTS[cfg.platform],
        "Comment": comment(ctx, environment),
        "Parameters": {"commands": script_lines, "executionTimeout": [str(cfg.execution_timeout)]},
        "TimeoutSeconds": cfg.delivery_timeout,
    }
    if cfg.cloudwatch_log_group:
        request["CloudWatchOutputConfig"] = {"CloudWatchLogGroupName": cfg.cloudwatch_log_group,
                                             "CloudWatchOutputEnabled": True}
    if cfg.s3_bucket:
        request["OutputS3BucketName"] = cfg.s3_bucket
        if cfg.s3_key_prefix:
            request["OutputS3KeyPrefix"] = cfg.s3_key_prefix
    return request


def base(cfg: TargetsConfig, ctx: RunContext, environment: str, data: bootstrap.Payload) -> dict[str, Any]:
    """The request without its targets, checked against the size limit."""
    request = _base(cfg, ctx, environment, bootstrap.commands(cfg.platform, data))
    check_size(request, data)
    return request


def for_ids(request: dict[str, Any], ids: Sequence[str]) -> list[dict[str, Any]]:
    """One request per 50 instance ids, each sent to all its instances at once."""
    return [{**request, "InstanceIds": chunk, "MaxConcurrency": str(len(chunk)), "MaxErrors": str(len(chunk))}
            for chunk in chunks(ids, MAX_IDS_PER_CALL)]


def for_tags(request: dict[str, Any], cfg: TargetsConfig) -> list[dict[str, Any]]:
    """A single request with tag Targets (all at once: SSM resolves the tags when it sends)."""
    return [{**request, "Targets": targets(cfg), "MaxConcurrency": "100%", "MaxErrors": "100%"}]


def build(cfg: TargetsConfig, ctx: RunContext, environment: str, data: bootstrap.Payload) -> list[dict[str, Any]]:
    """The requests of an all-at-once deploy: one per 50 instance ids, or a single one with tag Targets."""
    request = base(cfg, ctx, environment, data)
    return for_tags(request, cfg) if cfg.targets else for_ids(request, instance_ids(cfg))
