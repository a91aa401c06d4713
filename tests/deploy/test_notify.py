"""notify-webhook: the outcome posted to a Slack-compatible webhook (a local stand-in); a failure only warns."""

from __future__ import annotations

import dataclasses

import pytest

from ssm_action import runner
from ssm_action.deploy import notify
from tests.ssm.conftest import CTX
from tests.webhook import Webhook


@pytest.fixture
def hook():
    runner.reset()
    made = Webhook()
    yield made
    made.close()
    runner.reset()


def test_the_outcome_is_posted_with_who_what_where_result_and_links(hook):
    ctx = dataclasses.replace(CTX, branch="<main>")
    text = notify.message(ctx, "Deploy", "production", "failure", "1/3 target(s) failed; rolled back",
                          "https://example.com/logs")
    assert notify.send(hook.url, text)
    [post] = hook.posts
    assert post == {"text": text}
    assert text.startswith(f":x: Deploy of {CTX.sha[:12]} (&lt;main&gt;) of octo-org/octo-app to production "
                           "by octocat: *failure*. 1/3 target(s) failed; rolled back")
    assert text.endswith("<https://github.com/octo-org/octo-app/actions/runs/4242|run> · "
                         "<https://example.com/logs|output>")


@pytest.mark.parametrize("status", [500, 404, 302])
def test_a_failing_webhook_warns_and_never_shows_its_url(hook, capsys, status):
    hook.status = status
    runner.mask(hook.url)
    assert not notify.send(hook.url, "text")
    out = capsys.readouterr().out
    assert f"Notification not sent: The notification was not delivered: it answered HTTP {status}" in out
    assert "s3cr3tW3bh00kT0ken" not in out


def test_an_unreachable_webhook_warns(capsys):
    url = "http://127.0.0.1:9/services/T000/B000/s3cr3tW3bh00kT0ken"
    assert not notify.send(url, "text")
    out = capsys.readouterr().out
    assert "it could not be reached (ConnectionError)" in out and "s3cr3t" not in out


def test_no_webhook_sends_nothing(hook):
    assert not notify.send("", "text") and hook.posts == []
