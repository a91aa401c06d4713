"""Status and rollback modes end to end through the local transport, as the runner runs the action:
entrypoint.py in a process, the real agent on this machine, GitHub the fake over HTTP, S3 moto's."""

from __future__ import annotations

import json

from tests.deployments.test_end_to_end import finish, post_step, server, step, stored_records  # noqa: F401
from tests.webhook import Webhook


def test_status_then_rollback(step, server, github, runner_files, post_step):  # noqa: F811
    v1 = server.commit("v1")
    finish(step(v1), 0)
    v2 = server.commit("v2")
    finish(step(v2), 0)
    deploys = len(github.calls("create"))

    out = finish(step(v2, mode="status"), 0)
    items = json.loads(runner_files.outputs()["status-json"])
    assert [(i["instance_id"], i["sha"], i["health"], i["last_outcome"]) for i in items] == [
        ("local", v2, "healthy", "success")]
    assert items[0]["last_deploy_id"] == "4242-1" and items[0]["lock"] is None
    assert len(github.calls("create")) == deploys and len(stored_records()) == 2  # nothing recorded
    assert "Status: 1 target(s) healthy" in runner_files.summary.read_text()
    assert "status: running " + v2[:12] in out

    finish(step(v2, mode="rollback"), 0)
    assert server.get() == (200, "v1 tinydep-1.0") and server.head() == v1
    assert github.calls("create")[-1].body["task"] == "deploy:rollback"
    assert github.states(3) == ["in_progress", "success"]
    assert github.calls("status")[-1].body["description"] == "Put the last good version back on 1/1 target(s)"
    record = stored_records()[-1]
    assert (record["action"], record["result"], record["instances"][0]["running_sha"]) == ("rollback", "success", v1)
    assert runner_files.outputs()["deployed-sha"] == v1

    out = finish(step(v2, mode="rollback"), 1)  # only v1 is left in the server's record
    assert "no earlier good version is recorded on this server" in out
    assert github.states(4) == ["in_progress", "failure"] and server.get() == (200, "v1 tinydep-1.0")


def test_the_webhook_gets_the_outcome_its_url_stays_secret_and_its_failure_changes_nothing(
        step, server, github, runner_files):  # noqa: F811
    hook = Webhook()
    try:
        v1 = server.commit("v1")
        out = finish(step(v1, **{"notify-webhook": hook.url}), 0)
        [post] = hook.posts
        assert post["text"].startswith(f":white_check_mark: Deploy of {v1[:12]} (")
        assert " of octo-org/octo-app to production by " in post["text"]
        assert "*success*. Deployed" in post["text"] and "|run>" in post["text"]
        hook.status = 500
        out += finish(step(server.commit("v2"), **{"notify-webhook": hook.url}), 0)  # still a success
        assert "The notification was not delivered: it answered HTTP 500" in out
        assert github.states(2) == ["in_progress", "success"]
    finally:
        hook.close()
    assert f"::add-mask::{hook.url}" in out
    shown = out.replace(f"::add-mask::{hook.url}", "") + runner_files.summary.read_text()
    shown += runner_files.outputs()["audit-json"] + json.dumps(stored_records())
    assert "s3cr3tW3bh00kT0ken" not in shown
