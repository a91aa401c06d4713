"""Rollouts behind a load balancer, against moto's ELBv2 and CloudWatch over HTTP with the SSM fake.

fake_elb stands in for the ALB's timing (moto drains and checks health at once);
fake_ssm's event log orders DeregisterTargets, SendCommand, each invocation's
end and RegisterTargets on the test's fake clock.
"""

from __future__ import annotations

import dataclasses

import boto3
import pytest

from ssm_action.deploy import plan, timeline
from ssm_action.deploy.model import NOT_STARTED, verdict
from ssm_action.errors import ActionError, Cancelled
from ssm_action.transports.ssm import SsmTransport, rollout, traffic
from tests.ssm import fake_elb
from tests.ssm.conftest import CTX, SHA
from tests.ssm.fake_ssm import RUNNING, ran
from tests.ssm.test_ssm_scenarios import fleet, ids, last_line, run

REGION = "us-east-1"


def target_group(instance_ids, name="web-tg", delay=30) -> str:
    elb = boto3.client("elbv2", region_name=REGION)
    vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    arn = elb.create_target_group(Name=name, Protocol="HTTP", Port=8000, VpcId=vpc,
                                  TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}])
    if instance_ids:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": iid} for iid in instance_ids])
    fake_elb.reset_timing()  # the fleet starts in service: its registration is not the run's
    return arn


def alarm(name="web-5xx", state="OK") -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(AlarmName=name, MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5,
                                ComparisonOperator="GreaterThanThreshold")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by the test")


def registered(arn: str) -> set[str]:
    health = boto3.client("elbv2", region_name=REGION).describe_target_health(TargetGroupArn=arn)
    return {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]
            if d["TargetHealth"]["State"] not in ("unused", "draining")}


def events_of(fake, iid: str) -> list[str]:
    return [action for _, action, who, _ in fake.events if who == iid]


def ok_fleet(fake, elb, agent_runs, count):
    many = ids(count)
    fleet(fake, many, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    elb.fleet = set(many)
    return many


def test_each_server_is_drained_deployed_and_registered_in_turn(fake, elb, make_cfg, clock, agent_runs):
    six = ok_fleet(fake, elb, agent_runs, 6)
    arn = target_group(six)
    outcome = run(make_cfg(instance_ids=",".join(six), max_concurrency="2", target_groups="web-tg"), clock)

    assert outcome.ok and [w.instance_ids for w in outcome.waves] == [six[:2], six[2:4], six[4:]]
    for iid in six:
        assert events_of(fake, iid) == ["DeregisterTargets", "SendCommand", "Ended", "RegisterTargets"]
    # a wave is sent only once the one before is healthy again: never more than a wave out of service
    assert elb.peak_out == 2
    last_register = max(t for t, action, iid, _ in fake.events if action == "RegisterTargets" and iid in six[:2])
    first_out = min(t for t, action, iid, _ in fake.events if action == "DeregisterTargets" and iid in six[2:4])
    assert first_out >= last_register
    assert registered(arn) == set(six)
    # the servers that ended in the same poll go back in one call
    assert (elb.calls["DeregisterTargets"], elb.calls["RegisterTargets"]) == (3, 3)


def test_a_canary_first_wave_then_max_concurrency(fake, elb, make_cfg, clock, agent_runs):
    seven = ok_fleet(fake, elb, agent_runs, 7)
    target_group(seven)
    outcome = run(make_cfg(instance_ids=",".join(seven), max_concurrency="3", first_wave="1",
                           target_groups="web-tg"), clock)

    assert [len(w.instance_ids) for w in outcome.waves] == [1, 3, 3]
    assert elb.out_log[:3] and max(elb.out_log[:4]) == 1  # the canary alone is out first
    assert elb.peak_out == 3


def test_bake_time_spaces_the_waves(fake, elb, make_cfg, clock, agent_runs):
    four = ok_fleet(fake, elb, agent_runs, 4)
    target_group(four)
    alarm()
    outcome = run(make_cfg(instance_ids=",".join(four), max_concurrency="2", bake_time="120", target_groups="web-tg",
                           alarms="web-5xx"), clock)

    assert outcome.ok
    healthy_again = max(t for t, action, iid, _ in fake.events if action == "RegisterTargets" and iid in four[:2])
    next_out = min(t for t, action, iid, _ in fake.events if action == "DeregisterTargets" and iid in four[2:])
    assert next_out - healthy_again >= 120
    first = outcome.waves[0]
    assert first.drain > 0 and first.settle > 0 and first.bake >= 120 and outcome.waves[1].bake == 0
    chart = timeline.mermaid(outcome.waves)
    for phase in ("Wave 1 drain :active", "Wave 1 healthy again :active", "Wave 1 bake :active", "Wave 2 drain"):
        assert phase in chart
    assert "Wave 2 bake" not in chart  # none after the last wave
    assert not [t for t, action, iid, _ in fake.events if action == "DeregisterTargets" and t > next_out + 60]


def test_an_alarm_during_wave_2_stops_wave_3_and_the_fleet_is_put_back(
        fake, elb, make_cfg, clock, agent_runs, capsys):
    six = ok_fleet(fake, elb, agent_runs, 6)
    for iid in six[:4]:
        fake.then(iid, RUNNING, ran(last_line(agent_runs["rollback"].stdout)))
    arn = target_group(six)
    alarm()

    def sleep(seconds: float) -> None:
        if fake.calls["SendCommand"] == 2:
            boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
                AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx during wave 2")
        clock.sleep(seconds)

    pacing = dataclasses.replace(clock.pacing(), sleep=sleep)
    cfg = make_cfg(instance_ids=",".join(six), max_concurrency="2", target_groups="web-tg", alarms="web-5xx",
                   rollback_fleet_on_failure="true")
    outcome = SsmTransport(pacing=pacing).run(plan.build(cfg, CTX, "production"))

    assert not outcome.ok and outcome.stopped_by == "alarm web-5xx in ALARM after wave 2"
    assert [r.instance_id for r in outcome.not_started] == six[4:]
    assert {r.status for r in outcome.not_started} == {NOT_STARTED}
    assert all("web-5xx" in r.error for r in outcome.not_started)
    assert [w.kind for w in outcome.waves] == ["deploy", "deploy", "fleet-rollback", "fleet-rollback"]
    assert outcome.fleet_rolled_back == six[:4]
    for iid in six[:4]:  # the rollback drains and registers each server too
        assert events_of(fake, iid) == ["DeregisterTargets", "SendCommand", "Ended", "RegisterTargets"] * 2
    for iid in six[4:]:
        assert events_of(fake, iid) == []
    assert elb.peak_out == 2
    assert registered(arn) == set(six)
    assert verdict(outcome, SHA).line == ("rollout stopped: alarm web-5xx in ALARM after wave 2; 2 not started; "
                                          "4/4 updated target(s) put back")
    assert "Error: Rollout stopped by an alarm: CloudWatch alarm web-5xx in ALARM after wave 2" in \
        capsys.readouterr().out


def test_an_alarm_already_ringing_sends_nothing(fake, elb, make_cfg, clock, agent_runs):
    four = ok_fleet(fake, elb, agent_runs, 4)
    target_group(four)
    alarm(state="ALARM")
    outcome = run(make_cfg(instance_ids=",".join(four), max_concurrency="2", alarms="web-5xx",
                           target_groups="web-tg"), clock)

    assert not outcome.ok and outcome.stopped_by == "alarm web-5xx in ALARM before wave 1"
    assert len(outcome.not_started) == 4 and fake.calls["SendCommand"] == 0 and elb.peak_out == 0


def test_a_cancel_registers_again_what_this_run_took_out(fake, elb, make_cfg, clock, agent_runs):
    four = ok_fleet(fake, elb, agent_runs, 4)
    fleet(fake, four, RUNNING, RUNNING, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    arn = target_group(four)

    def sleep(seconds: float) -> None:
        if fake.calls["SendCommand"] == 2:
            raise Cancelled("signal 15: the workflow was cancelled")
        clock.sleep(seconds)

    pacing = dataclasses.replace(clock.pacing(), sleep=sleep)
    cfg = make_cfg(instance_ids=",".join(four), max_concurrency="2", target_groups="web-tg")
    with pytest.raises(Cancelled):
        SsmTransport(pacing=pacing).run(plan.build(cfg, CTX, "production"))
    for iid in four[2:]:
        assert events_of(fake, iid) == ["DeregisterTargets", "SendCommand", "RegisterTargets"]
    assert registered(arn) == set(four)


def test_a_broken_server_stays_out_and_one_put_back_by_the_agent_goes_back_in(
        fake, elb, make_cfg, clock, agent_runs):
    four = ok_fleet(fake, elb, agent_runs, 4)
    fake.plan(four[0], RUNNING, ran(last_line(agent_runs["failed"].stdout), code=1))
    fake.plan(four[1], RUNNING, ran(last_line(agent_runs["rolled_back"].stdout), code=1))
    arn = target_group(four)
    outcome = run(make_cfg(instance_ids=",".join(four), max_concurrency="2", max_errors="2",
                           target_groups="web-tg"), clock)

    assert [r.instance_id for r in outcome.failed] == four[:2]
    assert events_of(fake, four[0]) == ["DeregisterTargets", "SendCommand", "Ended"]
    assert events_of(fake, four[1]) == ["DeregisterTargets", "SendCommand", "Ended", "RegisterTargets"]
    assert registered(arn) == set(four[1:])


def test_a_server_the_load_balancer_never_finds_healthy_fails_and_is_taken_out_again(
        fake, elb, make_cfg, clock, agent_runs):
    two = ok_fleet(fake, elb, agent_runs, 2)
    elb.sick.add(two[1])
    arn = target_group(two)
    outcome = run(make_cfg(instance_ids=",".join(two), target_groups="web-tg", health_check_timeout="60"), clock)

    [bad] = outcome.failed
    assert (bad.instance_id, bad.status) == (two[1], traffic.UNHEALTHY)
    assert "web-tg" in bad.reason and "health-check-timeout 60 s" in bad.reason
    assert events_of(fake, two[1])[-2:] == ["RegisterTargets", "DeregisterTargets"]
    assert registered(arn) == {two[0]}


def test_a_longer_deregistration_delay_than_drain_timeout_is_a_warning_naming_both(
        fake, elb, make_cfg, clock, agent_runs, capsys):
    two = ok_fleet(fake, elb, agent_runs, 2)
    target_group(two, delay=600)
    outcome = run(make_cfg(instance_ids=",".join(two), target_groups="web-tg", drain_timeout="120"), clock)

    assert outcome.ok
    out = capsys.readouterr().out
    assert "Target group web-tg waits 600 s" in out and "drain-timeout 120 s" in out


@pytest.mark.parametrize(("inputs", "named"), [
    ({"target_groups": "web-tg,api-tg"}, "target-groups: api-tg"),
    ({"alarms": "web-5xx,no-such-alarm"}, "alarms: no-such-alarm"),
    ({"first_wave": "5"}, "first-wave: 5 is larger than the fleet pre-flight found (4 target(s))"),
])
def test_unknown_names_and_a_first_wave_larger_than_the_fleet_stop_before_anything_is_sent(
        fake, elb, make_cfg, clock, agent_runs, inputs, named):
    four = ok_fleet(fake, elb, agent_runs, 4)
    target_group(four)
    alarm()
    with pytest.raises(ActionError) as raised:
        run(make_cfg(instance_ids=",".join(four), **{"target_groups": "web-tg", **inputs}), clock)
    assert named in raised.value.message and "Nothing was sent" in raised.value.message
    assert fake.calls["SendCommand"] == 0 and elb.peak_out == 0


def test_an_alarm_during_the_bake_stops_the_next_wave(fake, elb, make_cfg, clock, agent_runs):
    four = ok_fleet(fake, elb, agent_runs, 4)
    target_group(four)
    alarm()
    rang = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > 0 and not rang and any(a == "RegisterTargets" for _, a, _, _ in fake.events):
            bake_started = max(t for t, a, _, _ in fake.events if a == "RegisterTargets")
            if clock.now - bake_started >= 30:  # half a minute into the bake
                rang.append(clock.now)
                boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
                    AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx during the bake")

    pacing = dataclasses.replace(clock.pacing(), sleep=sleep)
    cfg = make_cfg(instance_ids=",".join(four), max_concurrency="2", target_groups="web-tg", alarms="web-5xx",
                   bake_time="600")
    outcome = SsmTransport(pacing=pacing).run(plan.build(cfg, CTX, "production"))

    assert outcome.stopped_by == "alarm web-5xx in ALARM during the bake after wave 1"
    assert [r.instance_id for r in outcome.not_started] == four[2:] and fake.calls["SendCommand"] == 1
    assert clock.now - rang[0] <= traffic.POLL  # seen at the next poll, not at the bake's end


def test_a_server_that_turns_unhealthy_during_the_bake_fails_and_is_taken_out(
        fake, elb, make_cfg, clock, agent_runs):
    four = ok_fleet(fake, elb, agent_runs, 4)
    arn = target_group(four)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if four[0] in elb.answered_healthy:  # back in service: the bake has begun
            elb.sick.add(four[0])

    pacing = dataclasses.replace(clock.pacing(), sleep=sleep)
    cfg = make_cfg(instance_ids=",".join(four), max_concurrency="2", target_groups="web-tg", bake_time="60")
    outcome = SsmTransport(pacing=pacing).run(plan.build(cfg, CTX, "production"))

    [bad] = outcome.failed
    assert bad.instance_id == four[0] and bad.status == traffic.UNHEALTHY
    assert "during the bake after wave 1" in bad.reason
    assert four[0] not in registered(arn) and fake.calls["SendCommand"] == 1  # max-errors 0: no wave 2


@pytest.mark.parametrize(("count", "size", "first", "sizes"), [
    (10, 3, 1, [1, 3, 3, 3]), (10, 3, 0, [3, 3, 3, 1]), (4, 2, 4, [4])])
def test_waves_with_a_first_wave(count, size, first, sizes):
    assert [len(w) for w in rollout.waves_of(ids(count), size, first)] == sizes


def test_one_wave_over_the_whole_fleet_is_a_warning(fake, elb, make_cfg, clock, agent_runs, capsys):
    three = ok_fleet(fake, elb, agent_runs, 3)
    target_group(three)
    outcome = run(make_cfg(instance_ids=",".join(three), target_groups="web-tg"), clock)

    assert outcome.ok and elb.peak_out == 3
    assert "Whole fleet out of service: One wave takes all 3 target(s) out of service" in capsys.readouterr().out


def test_mode_rollback_goes_on_while_an_alarm_rings_and_drains_each_wave(fake, elb, make_cfg, clock, agent_runs):
    four = ids(4)
    fleet(fake, four, RUNNING, ran(last_line(agent_runs["rollback"].stdout)))
    elb.fleet = set(four)
    target_group(four)
    alarm(state="ALARM")
    outcome = run(make_cfg(mode="rollback", instance_ids=",".join(four), max_concurrency="2", target_groups="web-tg",
                           alarms="web-5xx"), clock)

    assert outcome.ok and not outcome.stopped_by and elb.peak_out == 2
    for iid in four:
        assert events_of(fake, iid) == ["DeregisterTargets", "SendCommand", "Ended", "RegisterTargets"]


def test_a_refused_register_stops_the_run_and_puts_back_what_it_took_out(fake, elb, make_cfg, clock, agent_runs):
    four = ok_fleet(fake, elb, agent_runs, 4)
    arn = target_group(four)
    elb.errors["RegisterTargets"] = ["OperationNotPermitted"]
    with pytest.raises(ActionError) as raised:
        run(make_cfg(instance_ids=",".join(four), max_concurrency="2", target_groups="web-tg"), clock)

    assert "OperationNotPermitted" in raised.value.message and fake.calls["SendCommand"] == 1
    assert registered(arn) == set(four)  # the first wave went back in, by the second try
