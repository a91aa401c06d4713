"""Pre-flight: every target is registered with SSM, Online, and runs the expected platform.

By instance id, each listed id is checked. By tag, SSM resolves the targets
itself when the command is sent; pre-flight checks the managed instances SSM
reports with those tags (DescribeInstanceInformation ``tag:Key`` filters), the
same set SendCommand will use. A tagged EC2 instance that never registered with
SSM is invisible to both, and is not deployed to.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from ssm_action import runner, summary
from ssm_action.config.sections import TargetsConfig
from ssm_action.errors import ActionError
from ssm_action.transports.ssm import request as ssm_request

PLATFORM_TYPES = {"windows": "Windows", "linux": "Linux"}
FILTER_VALUES_MAX = 50  # the filter takes 100 values; 50 keeps each id chunk to one page
PAGE_SIZE = 50  # DescribeInstanceInformation MaxResults: 5 to 50
NETWORK_FIX = ("start the SSM Agent, attach an instance profile with docs/iam/instance-profile-policy.json "
               "(its SystemsManagerAgentRunCommand statement), and allow outbound HTTPS to the ssm, ssmmessages "
               "and ec2messages endpoints")


class Problem(NamedTuple):
    instance_id: str
    why: str
    fix: str


def _describe(client: Any, filters: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    pages = client.get_paginator("describe_instance_information").paginate(
        Filters=filters, PaginationConfig={"PageSize": PAGE_SIZE})
    for page in pages:
        yield from page["InstanceInformationList"]


def find(client: Any, cfg: TargetsConfig, ids: list[str] | None = None) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The ids to check (``ids``, else the targets'), and what SSM knows of them."""
    if cfg.targets and ids is None:
        found = list(_describe(client, ssm_request.targets(cfg)))
        return [info["InstanceId"] for info in found], {info["InstanceId"]: info for info in found}
    ids = ssm_request.instance_ids(cfg) if ids is None else ids
    known: dict[str, dict[str, Any]] = {}
    for chunk in ssm_request.chunks(ids, FILTER_VALUES_MAX):
        for info in _describe(client, [{"Key": "InstanceIds", "Values": chunk}]):
            known[info["InstanceId"]] = info
    return ids, known


def problem(instance_id: str, info: dict[str, Any] | None, cfg: TargetsConfig) -> Problem | None:
    if info is None:
        return Problem(instance_id, f"not registered with SSM in {cfg.aws_region}",
                       f"check the id and aws-region; on the instance, {NETWORK_FIX}")
    ping = info.get("PingStatus", "")
    if ping == "Inactive":
        return Problem(instance_id, "Inactive in SSM (terminated, or its registration was removed)",
                       "remove it from the targets, or register it again")
    if ping != "Online":
        since = info.get("LastPingDateTime")
        last = f", last seen {since:%Y-%m-%d %H:%M} UTC" if since else ""
        return Problem(instance_id, f"SSM Agent not connected ({ping or 'no status'}{last})",
                       f"start the instance or its SSM Agent; {NETWORK_FIX}")
    expected = PLATFORM_TYPES[cfg.platform]
    if info.get("PlatformType") != expected:
        actual = f"{info.get('PlatformType', 'unknown')} ({info.get('PlatformName', '?')})"
        return Problem(instance_id, f"runs {actual}, not {expected}",
                       f"set platform to match the servers, or target only {cfg.platform} instances")
    return None


def _describe_ok(info: dict[str, Any]) -> str:
    return (f"{info['InstanceId']}: Online, {info.get('PlatformName') or info.get('PlatformType')} "
            f"{info.get('PlatformVersion', '')}, SSM Agent {info.get('AgentVersion', '?')}")


def _fail(problems: list[Problem], checked: int) -> ActionError:
    lines = [f"- {p.instance_id}: {p.why}. Fix: {p.fix}." for p in problems]
    rows = [[summary.code(p.instance_id), summary.escape(p.why), summary.escape(p.fix)] for p in problems]
    return ActionError(f"Pre-flight failed on {len(problems)} of {checked} target(s)",
                       "Nothing was sent. SSM cannot run the deploy on:\n" + "\n".join(lines), anchor="ssm-pre-flight",
                       details=summary.table(("instance", "problem", "likely fix"), rows))


def check(client: Any, cfg: TargetsConfig) -> list[str]:
    """The instance ids to deploy to, each Online and of the right platform; else ActionError."""
    with runner.group("Pre-flight: SSM registration, connection and platform"):
        ids, known = find(client, cfg)
        if cfg.targets:
            shown = ", ".join(f"{key}={'|'.join(values)}" for key, values in cfg.targets)
            runner.log(f"Targets {shown}: SSM reports {len(ids)} managed instance(s) with these tags "
                       "(SSM resolves the same tags when the command is sent).")
        if not ids:
            raise ActionError("No targets", "No managed instance matches the targets: check the tag keys and "
                              "values, aws-region, and that the instances are registered with SSM.",
                              anchor="ssm-pre-flight")
        problems = [p for p in (problem(iid, known.get(iid), cfg) for iid in ids) if p]
        if problems:
            raise _fail(problems, len(ids))
        for iid in ids:
            runner.log(_describe_ok(known[iid]))
    return ids
