"""The load-balancer inputs' syntax, checked with every other input before any call."""

from __future__ import annotations

import pytest

from tests.factories import parse
from tests.test_config import DEPLOY, errors_for

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef"


def test_the_defaults_change_nothing(tmp_path):
    cfg, errors = parse(tmp_path, **DEPLOY)
    traffic = cfg.deploy.targets.traffic
    assert errors == [] and not traffic.watched
    assert (traffic.drain_timeout, traffic.first_wave, traffic.bake_time) == (300, "", 0)


def test_names_arns_and_times_are_read(tmp_path):
    cfg, errors = parse(tmp_path, **DEPLOY, target_groups=f"web-tg\n{ARN}", alarms="web-5xx, web p99 latency",
                        drain_timeout="60", first_wave="1", bake_time="300")
    traffic = cfg.deploy.targets.traffic
    assert errors == [] and traffic.target_groups == ("web-tg", ARN)
    assert traffic.alarms == ("web-5xx", "web p99 latency")
    assert (traffic.drain_timeout, traffic.first_wave, traffic.bake_time) == (60, "1", 300)


@pytest.mark.parametrize(("inputs", "named", "says"), [
    ({"drain_timeout": "-1"}, "drain-timeout", "must be from 0 to 86400"),
    ({"bake_time": "-30"}, "bake-time", "must be from 0 to 86400"),
    ({"bake_time": "soon"}, "bake-time", "whole number"),
    ({"first_wave": "0"}, "first-wave", "1 for a canary"),
    ({"first_wave": "150%"}, "first-wave", "percentage from 1% to 100%"),
    ({"target_groups": "web_tg"}, "target-groups", "target group name"),
    ({"target_groups": "arn:aws:ec2:us-east-1:123456789012:instance/i-1"}, "target-groups", "or its ARN"),
])
def test_bad_values_name_the_input(tmp_path, inputs, named, says):
    assert says in errors_for(tmp_path, **DEPLOY, **inputs)[named]


def test_the_local_transport_has_no_load_balancer(tmp_path):
    found = errors_for(tmp_path, **{**DEPLOY, "instance_ids": ""}, transport="local", target_groups="web-tg",
                       alarms="web-5xx")
    assert "needs transport: ssm" in found["target-groups"] and "needs transport: ssm" in found["alarms"]
