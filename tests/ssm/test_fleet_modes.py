"""Status and rollback modes, and a rollout's report, through deploy/run.py: SSM on moto over HTTP with the
real agent's status and rollback output (agent_runs), the GitHub deployment and audit record switched off."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ssm_action import runner, transports
from ssm_action.deploy import run as deploy_run
from ssm_action.transports.ssm import SsmTransport
from tests.ssm.conftest import CTX
from tests.ssm.fake_ssm import RUNNING, ran
from tests.ssm.test_ssm_scenarios import fleet, ids, last_line


@pytest.fixture
def ssm_on_a_fake_clock(clock) -> Iterator[None]:
    previous = transports.register("ssm", lambda: SsmTransport(pacing=clock.pacing()))
    yield
    transports.unregister("ssm") if previous is None else transports.register("ssm", previous)


@pytest.fixture
def summary_of():
    def read() -> str:
        return "\n".join(runner._summary)  # what flush() would write
    return read


def test_status_mode_reports_what_runs_where_and_changes_nothing(fake, make_cfg, agent_runs, ssm_on_a_fake_clock,
                                                                 summary_of):
    three = ids(3)
    fleet(fake, three, RUNNING, ran(agent_runs["status"].stdout))
    fake.plan(three[2], ran("", "python3: not found", code=127))
    # read only: all at once whatever the wave size, and a target that does not answer stops nothing
    assert not deploy_run.run(make_cfg(mode="status", instance_ids=",".join(three), max_concurrency="1"), CTX)
    assert [sorted(c.instance_ids) for c in fake.commands()] == [three]

    real = agent_runs["status"].result
    out = runner.outputs()
    items = json.loads(out["status-json"])
    assert [i["instance_id"] for i in items] == three
    assert items[0]["sha"] == real.running_sha and items[0]["health"] == "healthy"
    assert (items[0]["last_deploy_id"], items[0]["last_outcome"]) == (real.last_deploy["deploy_id"], "success")
    assert items[0]["since"] == real.since and items[0]["lock"] is None
    assert not items[2]["answered"] and "not found" in items[2]["error"]
    assert out["succeeded-ids"] == ",".join(three[:2]) and out["failed-ids"] == three[2]
    assert "deployment-id" not in out and "audit-json" not in out  # nothing recorded: nothing changed
    assert out["deployed-sha"] == ""  # not every target answered
    text = summary_of()
    assert "Status: 1 of 3 target(s) unhealthy or not answering" in text
    assert f"| `{three[0]}` | `{real.running_sha[:12]}` |" in text


def test_rollback_mode_sends_the_agents_rollback_and_is_tracked(fake, make_cfg, agent_runs, ssm_on_a_fake_clock,
                                                                summary_of):
    two = ids(2)
    fleet(fake, two, RUNNING, ran(agent_runs["rollback"].stdout))
    cfg = make_cfg(mode="rollback", instance_ids=",".join(two), environment="production")
    assert deploy_run.run(cfg, CTX)

    real = agent_runs["rollback"].result
    out = runner.outputs()
    assert out["deployed-sha"] == real.running_sha != CTX.sha  # the server's last good, not the workflow's
    record = json.loads(out["audit-json"])
    assert (record["action"], record["result"]) == ("rollback", "success")
    assert record["summary"] == "Put the last good version back on 2/2 target(s)"
    assert [i["running_sha"] for i in record["instances"]] == [real.running_sha] * 2
    assert "Put the last good version back on production" in summary_of()


def test_status_warns_when_the_targets_run_different_commits(fake, make_cfg, agent_runs, ssm_on_a_fake_clock,
                                                             capsys):
    two = ids(2)
    real = agent_runs["status"].stdout
    other = real.replace(agent_runs["status"].result.running_sha, "f" * 40)
    fleet(fake, two, ran(real))
    fake.plan(two[1], ran(other))
    assert deploy_run.run(make_cfg(mode="status", instance_ids=",".join(two)), CTX)  # all healthy
    assert runner.outputs()["deployed-sha"] == ""
    assert "Mixed versions: The targets run 2 different commits" in capsys.readouterr().out


def test_a_stopped_rollout_reports_ids_per_state_and_its_timeline(fake, make_cfg, agent_runs, ssm_on_a_fake_clock,
                                                                  summary_of):
    twelve = ids(12)
    fleet(fake, twelve, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    fake.plan(twelve[5], RUNNING, ran(last_line(agent_runs["failed"].stdout), code=1))
    for iid in twelve[:5]:
        fake.then(iid, RUNNING, ran(last_line(agent_runs["rollback"].stdout)))
    cfg = make_cfg(instance_ids=",".join(twelve), max_concurrency="25%", environment="production",
                   rollback_fleet_on_failure="true")
    assert not deploy_run.run(cfg, CTX)

    out = runner.outputs()
    assert out["succeeded-ids"] == "" and out["failed-ids"] == twelve[5]  # the five updated were put back
    assert out["not-started-ids"] == ",".join(twelve[6:])
    assert out["fleet-rolled-back-ids"] == ",".join(twelve[:5])
    waves = json.loads(out["waves-json"])
    assert [(w["number"], w["kind"], w["succeeded"], w["failed"]) for w in waves] == [
        (1, "deploy", 3, 0), (2, "deploy", 2, 1), (3, "fleet-rollback", 5, 0)]
    text = summary_of()
    assert "```mermaid\ngantt" in text and "    Wave 2 (2 ok, 1 failed) :crit, w5, " in text
    assert "| not started | - | - | 6 | - | - |" in text
    assert f"| `{twelve[6]}` | :white_circle: NotStarted |" in text
    record = json.loads(out["audit-json"])
    assert record["fleet_rolled_back"] == twelve[:5] and len(record["waves"]) == 3
