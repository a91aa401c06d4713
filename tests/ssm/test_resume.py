"""A re-run resumes: the agent's status first, servers already running the commit skipped, last failures first.

The status answers are the real agent's status line with the commit and health
each scenario needs; moto's SSM (fake_ssm) serves them, then the deploy's.
"""

from __future__ import annotations

import dataclasses
import json

from ssm_action import runner
from ssm_action.contract import AgentResult, result_line
from ssm_action.deploy import plan, report
from ssm_action.transports.ssm import SsmTransport, command
from tests.ssm.conftest import CTX, SHA
from tests.ssm.fake_ssm import RUNNING, ran
from tests.ssm.test_ssm_scenarios import ids, last_line

OLD = "f" * 40
RERUN = dataclasses.replace(CTX, run_attempt="2")


def status_line(agent_runs, running: str, last: str = "success", health: str = "healthy") -> str:
    base = AgentResult.parse(agent_runs["status"].stdout).to_dict()
    base.update(running_sha=running, health=health,
                last_deploy={**(base["last_deploy"] or {}), "sha": SHA, "status": last})
    return result_line(base) + "\n"


def five_servers(fake, agent_runs) -> list[str]:
    """Two already run SHA, one failed last time, two run an older commit."""
    five = ids(5)
    states = [(SHA, "success"), (SHA, "success"), (OLD, "failed"), (OLD, "success"), (OLD, "success")]
    for iid, (running, last) in zip(five, states):
        fake.register(iid)
        fake.plan(iid, ran(status_line(agent_runs, running, last)))
        fake.then(iid, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    return five


def test_a_rerun_skips_the_servers_running_the_commit_and_deploys_first_where_it_failed(
        fake, make_cfg, clock, agent_runs):
    five = five_servers(fake, agent_runs)
    cfg = make_cfg(instance_ids=",".join(five), max_concurrency="1")
    outcome = SsmTransport(pacing=clock.pacing()).run(plan.build(cfg, RERUN, "production"))

    assert outcome.ok and [r.instance_id for r in outcome.results] == five
    assert sorted(outcome.skipped) == five[:2] and "already runs 0123456789ab" in outcome.skipped[five[0]]
    assert [w.instance_ids for w in outcome.waves] == [[five[2]], [five[3]], [five[4]]]  # the failed one first
    status, *deploys = fake.commands()
    assert sorted(status.instance_ids) == five
    status_params = command.script_payload(plan.build(cfg, RERUN, "production"), "status").params_b64
    assert status_params in "\n".join(status.parameters["commands"])  # the agent's read-only status
    assert [sorted(c.instance_ids) for c in deploys] == [[five[2]], [five[3]], [five[4]]]

    runner.reset()
    report.report(outcome, RERUN, "production")
    before = json.loads(runner.outputs()["status-json"])
    assert [(item["sha"], bool(item["skipped"])) for item in before] == [(SHA, True)] * 2 + [(OLD, False)] * 3
    assert "2 target(s) skipped, already running this commit" in "\n".join(runner._summary)


def test_redeploy_true_and_a_first_run_send_no_status_and_deploy_to_all(fake, make_cfg, clock, agent_runs):
    five = five_servers(fake, agent_runs)
    for iid in five:  # the first plan is the deploy's here
        fake.plan(iid, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    rerun = SsmTransport(pacing=clock.pacing()).run(plan.build(
        make_cfg(instance_ids=",".join(five), redeploy="true"), RERUN, "production"))
    first = SsmTransport(pacing=clock.pacing()).run(plan.build(
        make_cfg(instance_ids=",".join(five)), CTX, "production"))

    assert rerun.ok and first.ok and not rerun.skipped and not first.skipped
    assert [sorted(c.instance_ids) for c in fake.commands()] == [five, five]


def test_a_server_that_runs_the_commit_unhealthy_is_deployed_again(fake, make_cfg, clock, agent_runs):
    [iid] = ids(1)
    fake.register(iid)
    fake.plan(iid, ran(status_line(agent_runs, SHA, health="unhealthy")))
    fake.then(iid, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    outcome = SsmTransport(pacing=clock.pacing()).run(plan.build(
        make_cfg(instance_ids=iid), RERUN, "production"))

    assert outcome.ok and not outcome.skipped and len(fake.commands()) == 2


def test_a_rerun_by_tag_sends_by_id_and_its_fleet_rollback_spares_the_skipped(fake, make_cfg, clock, agent_runs):
    five = five_servers(fake, agent_runs)
    for iid in five:
        fake.tags[iid] = {"App": "web"}
    fake.later[five[2]] = [[RUNNING, ran(last_line(agent_runs["failed"].stdout), code=1)]]  # fails again
    for iid in five[3:]:
        fake.then(iid, RUNNING, ran(last_line(agent_runs["rollback"].stdout)))
    cfg = make_cfg(targets="tag:App=web", max_errors="0", rollback_fleet_on_failure="true")
    outcome = SsmTransport(pacing=clock.pacing()).run(plan.build(cfg, RERUN, "production"))

    status, deploy, *_ = fake.commands()
    assert sorted(deploy.instance_ids) == five[2:] and fake.sends[1]["Targets"] is None  # by id: not the skipped
    assert not outcome.ok and [r.instance_id for r in outcome.failed] == [five[2]]
    assert outcome.fleet_rolled_back == five[3:]  # the two skipped were not changed by this run: left alone
