"""Rolling waves over the fleet, against moto over HTTP with fake_ssm's per-command rate control.

The fake starts an invocation only while fewer than its command's MaxConcurrency
are in flight and records the peak over all commands: that peak is what the
servers see, whatever the action asked for.
"""

from __future__ import annotations

import dataclasses

import boto3
import pytest

from ssm_action.deploy import plan
from ssm_action.deploy.model import NOT_STARTED, verdict
from ssm_action.errors import Cancelled
from ssm_action.transports.ssm import SsmTransport, command, rollout
from tests.ssm.conftest import CTX, SHA
from tests.ssm.fake_ssm import PENDING, RUNNING, ran
from tests.ssm.test_ssm_scenarios import fleet, ids, last_line, run


@pytest.mark.parametrize(("spec", "fleet_size", "size"), [("10", 120, 10), ("25%", 40, 10), ("10%", 500, 50),
                                                          ("1%", 40, 1), ("200", 3, 3), ("100%", 7, 7)])
def test_wave_size(spec, fleet_size, size):
    assert rollout.wave_size(spec, fleet_size) == size


@pytest.mark.parametrize(("spec", "fleet_size", "budget"), [("0", 50, 0), ("3", 50, 3), ("10%", 40, 4),
                                                            ("0%", 40, 0), ("5%", 10, 0)])
def test_error_budget(spec, fleet_size, budget):
    assert rollout.error_budget(spec, fleet_size) == budget


def test_the_fake_models_per_command_max_concurrency_and_max_errors(fake, aws):
    """One command, as SSM runs it: 2 at a time; after the first failure (MaxErrors 0) the rest are cancelled."""
    six = ids(6)
    fleet(fake, six, RUNNING, ran("ok"))
    fake.plan(six[2], RUNNING, ran("bad", code=1))
    ssm = boto3.client("ssm", region_name="us-east-1")
    cid = ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=six, MaxConcurrency="2", MaxErrors="0",
                           Parameters={"commands": ["true"]})["Command"]["CommandId"]
    for _ in range(8):
        listed = ssm.list_command_invocations(CommandId=cid, Details=True)["CommandInvocations"]
    assert fake.peak_in_flight == 2
    assert [inv["Status"] for inv in listed] == ["Success", "Success", "Failed", "Success", "Cancelled", "Cancelled"]


def test_120_ids_with_max_concurrency_10_go_in_12_waves(fake, make_cfg, clock, agent_runs):
    many = ids(120)
    fleet(fake, many, PENDING, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    outcome = run(make_cfg(instance_ids=",".join(many), max_concurrency="10"), clock)

    assert outcome.ok and [r.instance_id for r in outcome.results] == many
    assert [w.instance_ids for w in outcome.waves] == [many[n:n + 10] for n in range(0, 120, 10)]
    assert fake.peak_in_flight == 10  # never more than a wave in flight, over the whole fleet
    assert [sorted(c.instance_ids) for c in fake.commands()] == [many[n:n + 10] for n in range(0, 120, 10)]
    assert {(s["MaxConcurrency"], s["MaxErrors"]) for s in fake.sends} == {("10", "10")}
    assert all(w.succeeded == 10 and not w.failed and w.ended for w in outcome.waves)


def test_25_percent_of_a_40_instance_tag_fleet(fake, make_cfg, clock, agent_runs):
    forty = ids(40)
    for iid in forty:
        fake.register(iid, tags={"App": "web"})
        fake.plan(iid, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    fake.register("i-00000000000000fff", tags={"App": "api"})  # not in the fleet
    outcome = run(make_cfg(targets="tag:App=web", max_concurrency="25%"), clock)

    assert outcome.ok and sorted(r.instance_id for r in outcome.results) == forty
    assert [len(w.instance_ids) for w in outcome.waves] == [10, 10, 10, 10]
    assert fake.peak_in_flight == 10
    # several waves go by the ids pre-flight resolved from the tags
    assert all(s["Targets"] is None and len(s["InstanceIds"]) == 10 for s in fake.sends)


def failing_in_wave_3(fake, agent_runs, thirty):
    fleet(fake, thirty, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    fake.plan(thirty[12], RUNNING, ran(last_line(agent_runs["failed"].stdout), code=1))


def test_a_failure_in_wave_3_with_max_errors_0_starts_no_further_wave(fake, make_cfg, clock, agent_runs, capsys):
    thirty = ids(30)
    failing_in_wave_3(fake, agent_runs, thirty)
    outcome = run(make_cfg(instance_ids=",".join(thirty), max_concurrency="5", max_errors="0"), clock)

    assert not outcome.ok
    assert len(outcome.waves) == 3 and outcome.waves[2].failed == 1
    assert [r.instance_id for r in outcome.failed] == [thirty[12]]
    assert [r.instance_id for r in outcome.not_started] == thirty[15:]
    assert {r.status for r in outcome.not_started} == {NOT_STARTED}
    assert all("error budget" in r.error and "wave 3" in r.error for r in outcome.not_started)
    assert sum(len(c.instance_ids) for c in fake.commands()) == 15  # nothing sent past wave 3
    assert not outcome.fleet_rollback
    line = verdict(outcome, SHA).line
    assert line == "1/30 target(s) failed; not rolled back; 15 not started (error budget exceeded)"
    assert "no further wave starts; 15 target(s) not started" in capsys.readouterr().out


def test_with_fleet_rollback_the_updated_servers_are_put_back(fake, make_cfg, clock, agent_runs):
    thirty = ids(30)
    failing_in_wave_3(fake, agent_runs, thirty)
    updated = thirty[:12] + thirty[13:15]
    for iid in updated:
        fake.then(iid, RUNNING, ran(last_line(agent_runs["rollback"].stdout)))
    cfg = make_cfg(instance_ids=",".join(thirty), max_concurrency="5", max_errors="0",
                   rollback_fleet_on_failure="true")
    outcome = run(cfg, clock)

    assert [r.instance_id for r in outcome.fleet_rollback] == updated
    assert outcome.fleet_rolled_back == updated
    assert [w.kind for w in outcome.waves] == ["deploy"] * 3 + ["fleet-rollback"]
    undo = fake.commands()[-1]
    assert sorted(undo.instance_ids) == sorted(updated)
    rollback_params = command.script_payload(plan.build(cfg, CTX, "production"), "rollback").params_b64
    assert rollback_params in "\n".join(undo.parameters["commands"])  # the agent's rollback, not a deploy
    assert [r.instance_id for r in outcome.not_started] == thirty[15:]
    assert verdict(outcome, SHA).line.endswith("; 14/14 updated target(s) put back")


def test_a_server_that_goes_offline_between_waves(fake, make_cfg, clock, agent_runs):
    twenty = ids(20)
    fleet(fake, twenty, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    fake.offline_after[twenty[14]] = 1  # once wave 1 was sent
    outcome = run(make_cfg(instance_ids=",".join(twenty), max_concurrency="10", max_errors="1"), clock)

    [gone] = outcome.failed
    assert (gone.instance_id, gone.status) == (twenty[14], rollout.OFFLINE)
    assert "went offline before wave 2" in gone.error and "ConnectionLost" in gone.error
    assert twenty[14] not in fake.commands()[1].instance_ids  # not sent to
    assert [r.ok for r in outcome.results].count(True) == 19 and not outcome.not_started
    assert outcome.waves[1].failed == 1


def test_waves_within_an_api_rate_limit(fake, make_cfg, clock, agent_runs):
    """SendCommand limited to 3 calls a second: botocore's retries carry the rollout through."""
    sixty = ids(60)
    fleet(fake, sixty, ran(last_line(agent_runs["success"].stdout)))
    fake.rates["SendCommand"] = 3.0
    outcome = run(make_cfg(instance_ids=",".join(sixty), max_concurrency="5"), clock)

    assert outcome.ok and len(outcome.waves) == 12
    assert fake.throttled["SendCommand"] > 0 and len(fake.commands()) == 12


def test_a_cancel_during_wave_2_cancels_that_wave_only(fake, make_cfg, clock, agent_runs):
    twenty = ids(20)
    fleet(fake, twenty, RUNNING, RUNNING, ran(last_line(agent_runs["success"].stdout)))

    def sleep(seconds: float) -> None:
        if fake.calls["SendCommand"] == 2:
            raise Cancelled("signal 15: the workflow was cancelled")
        clock.sleep(seconds)

    pacing = dataclasses.replace(clock.pacing(), sleep=sleep)
    cfg = make_cfg(instance_ids=",".join(twenty), max_concurrency="10")
    with pytest.raises(Cancelled):
        SsmTransport(pacing=pacing).run(plan.build(cfg, CTX, "production"))
    _, second = fake.commands()
    assert fake.cancelled == [second.command_id]  # wave 1 had ended: nothing of it to cancel


def test_with_a_log_group_the_output_links_open_the_cloudwatch_streams(fake, make_cfg, clock, agent_runs):
    two = ids(2)
    fleet(fake, two, ran(agent_runs["success"].stdout))
    outcome = run(make_cfg(instance_ids=",".join(two), cloudwatch_log_group="/ssm-deploy/web"), clock)

    config = {"CloudWatchLogGroupName": "/ssm-deploy/web", "CloudWatchOutputEnabled": True}
    assert fake.sends[0]["CloudWatchOutputConfig"] == config
    group = ("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/"
             "log-group/$252Fssm-deploy$252Fweb")
    cid = outcome.command_id
    assert outcome.log_url == f"{group}$3FlogStreamNameFilter$3D{cid}"
    assert outcome.results[0].log_url == (f"{group}/log-events/{cid}$252F{two[0]}$252F"
                                          "aws-runPowerShellScript$252Fstdout")
