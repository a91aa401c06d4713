"""No deploy from untrusted events: refused before any AWS or GitHub call, unless allow-untrusted-events."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ssm_action import transports
from ssm_action.deploy import run as deploy_run
from ssm_action.deploy import trust
from ssm_action.errors import ActionError
from tests import factories
from tests.ssm.conftest import CTX

REPO = "octo-org/octo-app"


def event_file(tmp_path, payload):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return {"GITHUB_EVENT_PATH": str(path)}


def pull_request(head_repo):
    return {"pull_request": {"head": {"ref": "master", "repo": {"full_name": head_repo}}}}


@pytest.mark.parametrize(("event", "payload", "why"), [
    ("pull_request", pull_request("mallory/octo-app"), "a pull_request event from the fork mallory/octo-app"),
    ("pull_request_target", pull_request("mallory/octo-app"), "from the fork mallory/octo-app"),
    ("workflow_run", {"workflow_run": {"head_repository": {"full_name": "mallory/x"}}}, "from the fork mallory/x"),
    ("pull_request", {}, "whose payload does not say where its code comes from"),
    ("issue_comment", {}, "the issue_comment event, which anyone who can comment"),
    ("pull_request_review_comment", {}, "anyone who can comment"),
    ("issues", {}, "the issues event, which anyone who can comment"),
    ("workflow_run", {"workflow_run": {"event": "issue_comment", "head_repository": {"full_name": REPO}}},
     "a workflow_run that followed a run started by issue_comment"),
    ("workflow_run", {"workflow_run": {"event": "pull_request_target", "head_repository": {"full_name": REPO}}},
     "a workflow_run that followed a run started by pull_request_target"),
    ("workflow_run", {"workflow_run": {"event": "issues", "head_repository": {"full_name": REPO}}},
     "started by issues"),
    ("workflow_run", {"workflow_run": {"head_repository": {"full_name": REPO}}}, "an event its payload does not name"),
])
def test_untrusted_events(tmp_path, event, payload, why):
    ctx = dataclasses.replace(CTX, event=event, repository=REPO)
    assert why in trust.why_untrusted(ctx, event_file(tmp_path, payload))


@pytest.mark.parametrize(("event", "payload"), [
    ("push", {}), ("workflow_dispatch", {}), ("schedule", {}),
    ("pull_request", pull_request("Octo-Org/octo-app")),  # same repository (names compare case-blind)
    ("workflow_run", {"workflow_run": {"event": "push", "head_repository": {"full_name": REPO}}}),
    ("workflow_run", {"workflow_run": {"event": "pull_request", "head_repository": {"full_name": REPO}}}),
])
def test_trusted_events(tmp_path, event, payload):
    ctx = dataclasses.replace(CTX, event=event, repository=REPO)
    assert trust.why_untrusted(ctx, event_file(tmp_path, payload)) == ""


class Recorder:
    """A stand-in transport (replaces ssm): records that it was asked to run, and runs nothing."""

    name = "ssm"
    runs = 0

    def adapt(self, params):
        return params

    def run(self, plan):
        Recorder.runs += 1
        raise AssertionError("an untrusted event reached the transport")


def test_a_forks_pull_request_is_refused_before_any_call(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_EVENT_PATH", event_file(tmp_path, pull_request("mallory/octo-app"))["GITHUB_EVENT_PATH"])
    previous = transports.register("ssm", Recorder)
    try:
        cfg = factories.deploy_config(tmp_path, instance_ids="i-0123456789abcdef0", app_directory="C:\\apps\\x",
                                      aws_region="us-east-1", environment_map="master=production",
                                      github_token="ghs_x")
        ctx = dataclasses.replace(CTX, event="pull_request", branch="master", repository=REPO)
        with pytest.raises(ActionError) as raised:
            deploy_run.run(cfg, ctx)
        assert raised.value.title == "Untrusted event" and "allow-untrusted-events: true" in raised.value.message
        assert Recorder.runs == 0
    finally:
        transports.unregister("ssm") if previous is None else transports.register("ssm", previous)


def test_allow_untrusted_events_lets_it_through(tmp_path):
    cfg = factories.deploy_config(tmp_path, transport="local", app_directory="srv", allow_untrusted_events="true")
    ctx = dataclasses.replace(CTX, event="issue_comment", repository=REPO)
    trust.check(cfg, ctx, {})  # no error
