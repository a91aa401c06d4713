"""Every way a deploy ends, in-process against a fake GitHub: the deployment always ends
with a final status (or a clear "not recorded"), and the deploy's own result stands."""

from __future__ import annotations

import json
import os

import pytest

from ssm_action.github import client, deployment
from ssm_action.errors import ActionError, Cancelled
from tests.deployments.stand_ins import INSTANCES, TOKEN, outcome
from tests.runner_files import annotations

SHA = "0123456789abcdef0123456789abcdef01234567"
RUN_URL = "https://github.com/octo-org/octo-app/actions/runs/4242"


def audit_of(runner_files) -> dict:
    return json.loads(runner_files.outputs()["audit-json"])


def test_success_creates_a_deployment_and_ends_it_success(action, github, runner_files):
    assert action(environment_url="https://web.example.com") is True
    [create] = github.calls("create")
    assert create.body == {
        "ref": SHA, "task": "deploy", "auto_merge": False, "required_contexts": [],
        "environment": "production", "production_environment": True,
        "description": "0123456789ab (main) by octocat via ssm",
        "payload": {"tool": "ssm-deploy-action", "deploy_id": "4242-1", "run_url": RUN_URL, "transport": "ssm",
                    "targets": list(INSTANCES)},
    }
    assert create.headers["Authorization"] == f"Bearer {TOKEN}"
    assert create.headers["X-GitHub-Api-Version"] == client.API_VERSION
    first, final = [c.body for c in github.calls("status")]
    assert first == {"state": "in_progress", "log_url": RUN_URL,
                     "description": "Deploying 0123456789ab to production via ssm"}
    assert final == {"state": "success", "log_url": RUN_URL, "environment_url": "https://web.example.com",
                     "description": "Deployed 0123456789ab to 3/3 target(s)"}
    outputs = runner_files.outputs()
    assert outputs["deployment-id"] == "1"
    assert runner_files.states() == {"deployment_id": "", "deployment_final": json.dumps(
        {"state": "success", "description": "Deployed 0123456789ab to 3/3 target(s)"})}
    assert audit_of(runner_files)["deployment_id"] == 1
    assert "| GitHub deployment | #1, status success |" in runner_files.summary.read_text()


def test_a_non_production_environment_is_not_marked_production(action, github):
    action(environment="development")
    assert github.calls("create")[0].body["production_environment"] is False


def test_failure_without_rollback(action, github, runner_files):
    assert action(lambda *a: outcome("ok", "failed", "ok")) is False
    assert github.states(1) == ["in_progress", "failure"]
    assert github.calls("status")[-1].body["description"] == "1/3 target(s) failed; not rolled back"
    record = audit_of(runner_files)
    assert (record["result"], record["rolled_back"]) == ("failure", False)
    assert [i["ok"] for i in record["instances"]] == [True, False, True]


def test_rolled_back(action, github, runner_files):
    assert action(lambda *a: outcome("rolled_back", "rolled_back", "ok")) is False
    assert github.calls("status")[-1].body == {"state": "failure", "log_url": RUN_URL,
                                               "description": "2/3 target(s) failed; rolled back"}
    assert audit_of(runner_files)["rolled_back"] is True


def test_partly_rolled_back(action, github):
    action(lambda *a: outcome("rolled_back", "failed", "ok"))
    assert github.calls("status")[-1].body["description"] == "2/3 target(s) failed; 1 rolled back"


def test_no_target_ran(action, github):
    action(lambda *a: outcome())
    assert github.calls("status")[-1].body["description"] == "no target ran the deploy"


def test_gates_failed_creates_no_deployment_but_an_audit_record(action, github, runner_files):
    assert action(gates_ok=False, mode="all") is False
    assert github.requests == []
    record = audit_of(runner_files)
    assert (record["result"], record["summary"]) == ("skipped", "nothing was deployed: a blocking gate failed")
    assert record["deployment_id"] is None and record["instances"] == []
    assert "| outcome | **skipped**: nothing was deployed: a blocking gate failed |" in runner_files.summary.read_text()


def test_an_error_in_the_deploy_ends_the_deployment_error(action, github, runner_files):
    def broken(*a):
        raise ActionError("SSM refused", f"AccessDenied on ssm:SendCommand (token {TOKEN}): give the role "
                          "ssm:SendCommand.", anchor="aws-credentials-and-permissions")

    with pytest.raises(ActionError):
        action(broken)
    assert github.states(1) == ["in_progress", "error"]
    assert github.calls("status")[-1].body["description"] == (
        "AccessDenied on ssm:SendCommand (token ***): give the role ssm:SendCommand.")
    assert audit_of(runner_files)["result"] == "error"


def test_a_bug_ends_the_deployment_error_with_a_short_description(action, github):
    def buggy(*a):
        raise KeyError("x" * 300)

    with pytest.raises(KeyError):
        action(buggy)
    description = github.calls("status")[-1].body["description"]
    assert description.startswith("KeyError: 'xxx") and len(description) == client.DESCRIPTION_LIMIT


@pytest.mark.parametrize("signal", [Cancelled("signal 15: the workflow was cancelled"), KeyboardInterrupt()])
def test_a_cancel_ends_the_deployment_error_and_goes_on(action, github, runner_files, signal):
    def cancelled(*a):
        raise signal

    with pytest.raises(type(signal)):
        action(cancelled)
    assert github.states(1) == ["in_progress", "error"]
    assert github.calls("status")[-1].body["description"].startswith("Cancelled (")
    assert audit_of(runner_files)["result"] == "cancelled"


def test_a_known_outcome_wins_over_a_later_cancel(action, github, monkeypatch):
    from ssm_action.deploy import report

    def cancel_while_reporting(*a):
        raise Cancelled("signal 15")

    monkeypatch.setattr(report, "report", cancel_while_reporting)
    with pytest.raises(Cancelled):
        action()
    assert github.states(1) == ["in_progress", "success"]


def test_403_without_the_permission_says_what_to_add(action, github, runner_files, capsys):
    github.fail_next("create", 403, {"message": "Resource not accessible by integration",
                                     "documentation_url": "https://docs.github.com/rest"})
    assert action() is True  # the deploy's own result
    assert len(github.calls("create")) == 1 and not github.calls("list")  # a 403 is not retried
    [warning] = annotations(capsys.readouterr().out, "warning")
    assert "add `permissions: deployments: write` to the job" in warning
    assert "Resource not accessible by integration" in warning
    assert "deployment-id" not in runner_files.outputs()
    assert "| GitHub deployment | not recorded: Could not create the GitHub deployment:" in (
        runner_files.summary.read_text())


def test_409_is_explained_and_not_retried(action, github, capsys):
    github.fail_next("create", 409, {"message": "Conflict: Commit status checks failed for main."})
    assert action() is True
    assert len(github.calls("create")) == 1
    [warning] = annotations(capsys.readouterr().out, "warning")
    assert "409 Conflict" in warning and "Commit status checks failed" in warning


def test_5xx_then_success_on_a_status_post(action, github, capsys):
    github.fail_next("status", 502, {"message": "Server Error"})
    github.fail_next("status", 503, None, {"Retry-After": "0"})
    assert action() is True
    assert github.states(1) == ["in_progress", "success"]
    assert len(github.calls("status")) == 4
    assert annotations(capsys.readouterr().out, "warning") == []


def test_a_status_post_that_keeps_failing_gives_up_in_time(action, github, runner_files, capsys):
    for _ in range(50):
        github.fail_next("status", 500, {"message": "Server Error"})
    assert action() is True
    assert len(github.calls("status")) < 50  # bounded by the time budget, not by the failures
    assert github.states(1) == []
    warnings = annotations(capsys.readouterr().out, "warning")
    assert any("Could not set GitHub deployment 1 to success: GitHub had a server error (500)" in w
               for w in warnings)
    assert "#1, status none; Could not set GitHub deployment 1 to success" in runner_files.summary.read_text()
    # GitHub is back when the post-entrypoint runs: it posts the status the main step could not
    state = {f"STATE_{name}": value for name, value in runner_files.states().items()}
    github.heal()
    deployment.finalise_leftover({**os.environ, **state})
    assert github.states(1) == ["success"]
    assert github.calls("status")[-1].body == {"state": "success", "log_url": RUN_URL,
                                               "description": "Deployed 0123456789ab to 3/3 target(s)"}


def test_a_5xx_after_github_created_the_deployment_does_not_duplicate_it(action, github):
    github.fail_next("create", 502, {"message": "Server Error"}, apply=True)
    action()
    assert len(github.calls("create")) == 1 and len(github.calls("list")) == 1
    assert list(github.deployments) == [1] and github.states(1) == ["in_progress", "success"]


def test_a_5xx_before_github_created_it_is_posted_again(action, github):
    github.fail_next("create", 500, {"message": "Server Error"})
    action()
    assert len(github.calls("create")) == 2 and len(github.calls("list")) == 1
    assert list(github.deployments) == [1]


def test_github_unreachable(action, monkeypatch, runner_files, capsys):
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    assert action() is True
    [warning] = annotations(capsys.readouterr().out, "warning")
    assert warning.startswith("Could not create the GitHub deployment: Could not reach GitHub at http://127.0.0.1:9")
    assert audit_of(runner_files)["result"] == "success"
    assert "| GitHub deployment | not recorded: Could not create" in runner_files.summary.read_text()


@pytest.mark.parametrize("inputs, reason", [
    ({"github_token": ""}, "github-token is empty"),
    ({"create_deployment": "false"}, "create-deployment is false"),
    ({"dry_run": "true"}, "this is a dry run"),
])
def test_no_deployment_without_a_token_when_turned_off_or_in_a_dry_run(action, github, runner_files, capsys,
                                                                       inputs, reason):
    assert action(**inputs) is True
    assert github.requests == []
    [notice] = annotations(capsys.readouterr().out, "notice")
    assert notice == f"No GitHub deployment is recorded: {reason}. The deploy goes ahead."
    assert f"| GitHub deployment | not recorded: {reason} |" in runner_files.summary.read_text()


def test_with_cloudwatch_the_statuses_link_to_the_log_streams(action, github):
    streams = "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/x"

    def with_streams(plan):
        done = outcome("ok", "ok", "ok")
        done.log_url = streams
        return done

    action(with_streams, cloudwatch_log_group="/ssm-deploy/web")
    assert github.calls("status")[-1].body["log_url"] == streams
    action(with_streams)  # without the log group, the run stays the link
    assert github.calls("status")[-1].body["log_url"] == RUN_URL
