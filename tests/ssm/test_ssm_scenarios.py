"""The SSM transport against moto over real HTTP (extended by fake_ssm), scenario by scenario.

Invocations return the real agent's output (agent_runs); polling runs on a fake
clock, so no test waits for real time.
"""

from __future__ import annotations

import json
import math

import boto3
import pytest

from ssm_action.deploy import plan
from ssm_action.deploy.model import DeployOutcome
from ssm_action.errors import ActionError
from ssm_action.transports.ssm import SsmTransport, bootstrap, command
from tests.ssm.agent_runs import run_script
from tests.ssm.conftest import CTX, SHA
from tests.ssm.fake_ssm import PENDING, RUNNING, Step, ran


def ids(count: int, start: int = 1) -> list[str]:
    return [f"i-{n:017x}" for n in range(start, start + count)]


def run(cfg, clock, **kwargs) -> DeployOutcome:
    return SsmTransport(pacing=clock.pacing(), **kwargs).run(plan.build(cfg, CTX, "production"))


def fleet(fake, instance_ids, *steps, platform="Windows"):
    for iid in instance_ids:
        fake.register(iid, platform)
        fake.plan(iid, *steps)


def last_line(stdout: str) -> str:
    """The real result line alone: output short enough that the listing carries it whole."""
    return stdout.strip().splitlines()[-1] + "\n"


def test_three_windows_instances_all_succeed(fake, make_cfg, clock, agent_runs, capsys):
    three = ids(3)
    fleet(fake, three, PENDING, RUNNING, ran(agent_runs["success"].stdout))
    outcome = run(make_cfg(instance_ids=",".join(three)), clock)

    assert outcome.ok and not outcome.failed
    assert [r.instance_id for r in outcome.results] == three
    for r in outcome.results:
        assert (r.status, r.agent.status, r.agent.health, r.duration) == ("Success", "success", "healthy", 42.0)
        assert [state for _, state in r.timeline] == ["Pending", "InProgress", "Success"]
        assert r.log_url.endswith(f"/run-command/{outcome.command_id}/{r.instance_id}?region=us-east-1")
    [command] = fake.commands()
    assert outcome.command_id == command.command_id
    assert command.document_name == "AWS-RunPowerShellScript"
    assert sorted(command.instance_ids) == three
    assert command.parameters["executionTimeout"] == ["1800"]
    assert command.timeout_seconds == 600 and (command.max_concurrency, command.max_errors) == ("3", "3")
    assert SHA[:12] in command.comment and "octocat" in command.comment and len(command.comment) <= 100
    assert fake.calls["ListCommandInvocations"] == 3  # one walk a poll, for the whole fleet
    log = capsys.readouterr().out
    assert f"{three[1]} Pending -> InProgress" in log and f"{three[2]} InProgress -> Success" in log


def test_one_of_three_fails_and_the_others_are_reported_succeeded(fake, make_cfg, clock, agent_runs):
    three = ids(3)
    fleet(fake, three, RUNNING, ran(agent_runs["success"].stdout))
    fake.plan(three[1], RUNNING, ran(agent_runs["failed"].stdout, code=1))
    outcome = run(make_cfg(instance_ids=",".join(three)), clock)

    assert not outcome.ok
    assert [r.instance_id for r in outcome.failed] == [three[1]]
    bad = outcome.results[1]
    assert (bad.status, bad.agent.status, bad.rolled_back) == ("Failed", "failed", False)
    assert "cannot start" in bad.agent.error
    assert [(r.status, r.ok) for r in (outcome.results[0], outcome.results[2])] == [("Success", True)] * 2


def test_a_rolled_back_instance_is_a_failure_that_says_so(fake, make_cfg, clock, agent_runs):
    [one] = ids(1)
    fleet(fake, [one], ran(agent_runs["rolled_back"].stdout, code=2))
    outcome = run(make_cfg(instance_ids=one), clock)

    [r] = outcome.results
    assert not outcome.ok and r.rolled_back and r.agent.health == "healthy"
    assert len(agent_runs["rolled_back"].stdout) > 2_500  # cut in the listing: read back whole
    assert fake.calls["GetCommandInvocation"] == 1


def test_the_listing_alone_is_enough_when_it_holds_the_result_line(fake, make_cfg, clock, agent_runs):
    [one] = ids(1)
    fleet(fake, [one], ran(last_line(agent_runs["success"].stdout)))
    assert run(make_cfg(instance_ids=one), clock).ok
    assert fake.calls["GetCommandInvocation"] == 0


def test_one_offline_at_pre_flight_sends_nothing(fake, make_cfg, clock):
    online, offline, unknown = ids(3)
    fake.register(online)
    fake.register(offline, ping="ConnectionLost")
    with pytest.raises(ActionError) as caught:
        run(make_cfg(instance_ids=f"{online},{offline},{unknown}"), clock)

    message = caught.value.message
    assert f"{offline}: SSM Agent not connected (ConnectionLost" in message
    assert f"{unknown}: not registered with SSM in us-east-1" in message
    assert online not in message and "instance-profile-policy.json" in message
    assert fake.calls["SendCommand"] == 0 and fake.commands() == []
    assert f"| `{offline}` |" in caught.value.details  # the table goes into the summary with the error


def test_wrong_platform_fails_pre_flight(fake, make_cfg, clock):
    [linux] = ids(1)
    fake.register(linux, platform="Linux")
    with pytest.raises(ActionError, match="runs Linux \\(Ubuntu\\), not Windows"):
        run(make_cfg(instance_ids=linux), clock)
    assert fake.calls["SendCommand"] == 0


@pytest.mark.parametrize("step, state, hint", [
    (Step("TimedOut", "Execution Timed Out", code=-1), "ExecutionTimedOut", "execution-timeout (1800 s)"),
    (Step("TimedOut", "Delivery Timed Out"), "DeliveryTimedOut", "delivery-timeout (600 s)"),
    (Step("Failed", "Undeliverable"), "Undeliverable", "could not deliver"),
    (Step("Failed", "Terminated", code=-1), "Terminated", "terminated on the instance"),
])
def test_ssm_end_states_are_mapped(fake, make_cfg, clock, agent_runs, step, state, hint):
    [one] = ids(1)
    head = "\n".join(agent_runs["success"].stdout.splitlines()[:3])  # cut short: no result line
    fleet(fake, [one], RUNNING, Step(step.status, step.details, head if step.code else "", "", step.code))
    [r] = run(make_cfg(instance_ids=one), clock).results

    assert (r.status, r.ok, r.agent) == (state, False, None)
    assert hint in r.error
    never_ran = state in ("DeliveryTimedOut", "Undeliverable")
    assert fake.calls["GetCommandInvocation"] == (0 if never_ran else 1)


def test_a_server_python_that_cannot_run_is_reported_with_its_error(fake, make_cfg, clock, tmp_path):
    cfg = make_cfg(instance_ids=ids(1)[0], platform="linux", app_directory="/srv/octo", server_python="/no/python3")
    data = command.script_payload(plan.build(cfg, CTX, "production"))
    real = run_script(bootstrap.script("linux", data), tmp_path, {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)})
    fleet(fake, cfg.targets.instance_ids, ran(real.stdout, real.stderr, real.code), platform="Linux")
    [r] = run(cfg, clock).results

    assert (r.status, r.ok, r.agent) == ("Failed", False, None)
    assert r.error.startswith("The agent reported no result") and "/no/python3: not found" in r.error


def test_past_the_deadline_the_command_is_cancelled_and_fails(fake, make_cfg, clock, capsys):
    two = ids(2)
    fleet(fake, two, PENDING, RUNNING)  # never ends
    outcome = run(make_cfg(instance_ids=",".join(two), delivery_timeout="30", execution_timeout="60"), clock)

    assert fake.cancelled == [outcome.command_id]
    assert not outcome.ok
    assert [(r.status, r.ok) for r in outcome.results] == [("Cancelled", False)] * 2
    assert "Still InProgress when this action's deadline passed (150 s" in outcome.results[0].error
    assert clock.now == 150  # the last poll is at the deadline itself
    assert "SSM deadline passed" in capsys.readouterr().out


@pytest.mark.parametrize("with_error", [True, False], ids=["InvocationDoesNotExist", "empty-list"])
def test_invocations_not_listed_yet_right_after_sending_are_waited_for(fake, make_cfg, clock, agent_runs,
                                                                       with_error):
    two = ids(2)
    fleet(fake, two, ran(agent_runs["success"].stdout))
    fake.hidden_walks, fake.hide_with_error = 3, with_error
    outcome = run(make_cfg(instance_ids=",".join(two)), clock)

    assert outcome.ok
    assert fake.walks[outcome.command_id] == 4
    assert [state for _, state in outcome.results[0].timeline] == ["Success"]


def test_a_throttling_burst_skips_polls_and_backs_off(fake, make_cfg, clock, agent_runs, capsys):
    two = ids(2)
    fleet(fake, two, RUNNING, ran(agent_runs["success"].stdout))
    fake.errors["ListCommandInvocations"] = ["", "ThrottlingException", "ThrottlingException", "ThrottlingException"]
    # no botocore retries (nor adaptive mode's client-side delays, in real time): the waiter's own handling
    outcome = run(make_cfg(instance_ids=",".join(two)), clock, retries={"mode": "standard", "total_max_attempts": 1})

    assert outcome.ok
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]  # doubled after each throttled poll
    assert capsys.readouterr().out.count("SSM answered ThrottlingException") == 3


def test_120_instances_by_id_go_in_3_send_command_calls(fake, make_cfg, clock, agent_runs):
    many = ids(120)
    fleet(fake, many, PENDING, RUNNING, ran(last_line(agent_runs["success"].stdout)))
    outcome = run(make_cfg(instance_ids=",".join(many)), clock)

    assert outcome.ok and [r.instance_id for r in outcome.results] == many
    commands = fake.commands()
    assert [len(c.instance_ids) for c in commands] == [50, 50, 20]
    assert [sorted(c.instance_ids) for c in commands] == [many[:50], many[50:100], many[100:]]
    assert outcome.command_id == ",".join(c.command_id for c in commands)
    polls = 3
    assert fake.calls["ListCommandInvocations"] == polls * 3  # one page per command per poll
    assert fake.calls["ListCommandInvocations"] / polls <= math.ceil(120 / 50) + 1


def ec2_instances(count: int, tags: dict[str, str]) -> list[str]:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    tag_spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    made = ec2.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count, TagSpecifications=tag_spec)
    return [i["InstanceId"] for i in made["Instances"]]


def test_targets_by_tag(fake, make_cfg, clock, agent_runs):
    web = ec2_instances(2, {"App": "web"})
    api = ec2_instances(1, {"App": "api"})
    for iid in web + api:
        fake.register(iid, tags={"App": "web" if iid in web else "api"})
        fake.plan(iid, RUNNING, ran(agent_runs["success"].stdout))
    outcome = run(make_cfg(targets="tag:App=web"), clock)

    assert outcome.ok and sorted(r.instance_id for r in outcome.results) == sorted(web)
    [command] = fake.commands()
    assert command.targets == [{"Key": "tag:App", "Values": ["web"]}]
    assert fake.calls["ListCommands"] >= 1  # by tag, SSM's own status says when it is over


def test_a_tagged_instance_ssm_did_not_send_to_is_reported(fake, make_cfg, clock, agent_runs):
    [web] = ec2_instances(1, {"App": "web"})
    [stray] = ids(1)  # registered with the tag, but SSM's target resolution leaves it out
    for iid in (web, stray):
        fake.register(iid, tags={"App": "web"})
        fake.plan(iid, ran(agent_runs["success"].stdout))
    outcome = run(make_cfg(targets="tag:App=web"), clock)

    assert not outcome.ok
    assert [(r.instance_id, r.status) for r in outcome.failed] == [(stray, "NotSent")]


def test_cut_output_is_recovered_from_s3(fake, make_cfg, clock, agent_runs):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="deploy-logs")
    [one] = ids(1)
    noisy = "warning: noisy tool output\n" * 1_500 + agent_runs["success"].stdout  # 40 KB: SSM cuts it
    fleet(fake, [one], ran(noisy))
    outcome = run(make_cfg(instance_ids=one, s3_bucket="deploy-logs", s3_key_prefix="deploys/web"), clock)

    [r] = outcome.results
    assert r.ok and r.output == noisy and r.agent == agent_runs["success"].result
    folder = f"deploys/web/{outcome.command_id}/{one}/awsrunPowerShellScript/0.awsrunPowerShellScript/"
    assert r.log_url.startswith("https://s3.console.aws.amazon.com/s3/buckets/deploy-logs?region=us-east-1&prefix=")
    assert r.log_url.endswith(folder.replace("/", "%2F").replace("%2F", "/"))
    assert fake.calls["GetCommandInvocation"] == 0
    [command] = fake.commands()
    assert (command.output_s3_bucket_name, command.output_s3_key_prefix) == ("deploy-logs", "deploys/web")


def test_cut_output_without_s3_says_how_to_keep_it(fake, make_cfg, clock, agent_runs):
    [one] = ids(1)
    fleet(fake, [one], ran("warning: noisy tool output\n" * 1_500 + agent_runs["success"].stdout))
    [r] = run(make_cfg(instance_ids=one), clock).results

    assert not r.ok and r.agent is None and len(r.output) == 24_000
    assert "set s3-bucket" in r.error


def test_a_linux_target(fake, make_cfg, clock, agent_runs):
    [one] = ids(1)
    fleet(fake, [one], RUNNING, ran(agent_runs["success"].stdout), platform="Linux")
    outcome = run(make_cfg(instance_ids=one, platform="linux", app_directory="/srv/octo"), clock)

    assert outcome.ok
    [command] = fake.commands()
    assert command.document_name == "AWS-RunShellScript"
    assert command.parameters["commands"][1] == "set -eu"


def test_dry_run_sends_nothing_and_needs_no_credentials(fake, make_cfg, clock, monkeypatch, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    outcome = run(make_cfg(instance_ids=",".join(ids(2)), dry_run="true"), clock)

    assert outcome.dry_run and outcome.ok and outcome.results == []
    assert sum(fake.calls.values()) == 0
    log = capsys.readouterr().out
    request = json.loads(log[log.index("["):log.index("\n]\n") + 2])
    assert request[0]["DocumentName"] == "AWS-RunPowerShellScript" and request[0]["InstanceIds"] == ids(2)
    assert ": the agent zipapp, " in log and f'"sha": "{SHA}"' in log


def test_missing_credentials_stop_before_any_call(fake, make_cfg, clock, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ActionError, match="configure-aws-credentials"):
        run(make_cfg(instance_ids=ids(1)[0]), clock)
    assert sum(fake.calls.values()) == 0


def test_a_failed_send_cancels_the_batches_already_sent(fake, make_cfg, clock):
    many = ids(60)
    fleet(fake, many, RUNNING)
    fake.errors["SendCommand"] = ["", "AccessDeniedException"]
    with pytest.raises(ActionError, match="allow ssm:DescribeInstanceInformation, ssm:SendCommand"):
        run(make_cfg(instance_ids=",".join(many)), clock)
    [sent] = fake.commands()
    assert fake.cancelled == [sent.command_id]


def test_losing_the_right_to_follow_the_command_cancels_it(fake, make_cfg, clock):
    [one] = ids(1)
    fleet(fake, [one], RUNNING)
    fake.errors["ListCommandInvocations"] = ["AccessDeniedException"]
    with pytest.raises(ActionError, match="AWS refused following the command"):
        run(make_cfg(instance_ids=one), clock)
    assert fake.cancelled == [fake.commands()[0].command_id]
