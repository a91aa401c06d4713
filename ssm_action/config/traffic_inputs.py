"""The rollout's inputs: target-groups, drain-timeout, first-wave, bake-time, alarms, and redeploy.

Only their syntax is checked here; whether the target groups and alarms exist,
and whether first-wave fits the fleet, is known only from AWS (pre-flight, before
anything is sent).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ssm_action.config.sections import TrafficConfig

if TYPE_CHECKING:
    from ssm_action.config.reader import Reader

TARGET_GROUP_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
TARGET_GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/"
                              r"[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32}$")
ALARM_NAME = re.compile(r"^[^\x00-\x1f]{1,255}$")
WAVE = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
MAX_SECONDS = 86400  # a day: longer drains and bakes belong in separate runs


def is_target_group(value: str) -> bool:
    return bool(TARGET_GROUP_NAME.match(value) or TARGET_GROUP_ARN.match(value))


def read(r: Reader) -> TrafficConfig:
    return TrafficConfig(
        target_groups=r.items("target-groups", is_target_group,
                              "must be an ELBv2 target group name (1-32 letters, digits or '-') or its ARN, "
                              "e.g. web-tg or arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/"
                              "web-tg/0123456789abcdef."),
        drain_timeout=r.integer("drain-timeout", 0, MAX_SECONDS),
        first_wave=r.matching("first-wave", WAVE, "must be a number from 1 or a percentage from 1% to 100%, "
                              "e.g. 1 for a canary (or empty: the first wave is max-concurrency)."),
        bake_time=r.integer("bake-time", 0, MAX_SECONDS),
        alarms=r.items("alarms", ALARM_NAME.match, "must be a CloudWatch alarm name (1-255 characters, no control "
                       "characters)."),
        redeploy=r.boolean("redeploy"),
    )


def check(traffic: TrafficConfig, transport: str, r: Reader) -> None:
    """Rules with other inputs: the load balancer is reached through the ssm transport only."""
    if transport != "ssm":
        for name, value in (("target-groups", traffic.target_groups), ("alarms", traffic.alarms)):
            if value:
                r.fail(name, "needs transport: ssm (the local transport deploys to this runner, behind no load "
                       "balancer); remove it or set transport: ssm.")
