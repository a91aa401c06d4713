"""Notifications: the outcome posted to a Slack-compatible incoming webhook (``notify-webhook``).

One JSON ``{"text": ...}`` POST: who, what, where, the result and links to the
run and the output. The URL is a secret (masked by the CLI, never printed
here); a webhook that fails or does not answer is a warning, never a change of
the result.
"""

from __future__ import annotations

import json

from ssm_action import runner
from ssm_action.context import RunContext

TIMEOUT = 10.0  # seconds: the deploy is over; a slow webhook must not hold the job
ICONS = {"success": ":white_check_mark:", "failure": ":x:", "error": ":x:", "cancelled": ":stop_sign:",
         "skipped": ":no_entry:"}


def _slack(text: str) -> str:
    """Slack's escaping: &, < and > are control characters in its text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(ctx: RunContext, what: str, environment: str, result: str, line: str, log_url: str = "") -> str:
    """e.g. ':x: Deploy of 0123456789ab (main) to production by octocat: failure. 1/3 target(s) failed'."""
    text = (f"{ICONS.get(result, ':grey_question:')} {_slack(what)} of {ctx.sha[:12]} "
            f"({_slack(ctx.ref_label)}) of {_slack(ctx.repository or '-')} to {_slack(environment)} "
            f"by {_slack(ctx.actor)}: *{_slack(result)}*. {_slack(line)}")
    links = [f"<{url}|{name}>" for name, url in (("run", ctx.run_url), ("output", log_url)) if url]
    return runner.redact(text + (" " + " · ".join(links) if links else ""))


def send(webhook: str, text: str) -> bool:
    """POST the text; False (after a warning) when the webhook did not take it."""
    if not webhook:
        return False
    import requests  # lazily: only runs that notify need it

    try:
        answer = requests.post(webhook, data=json.dumps({"text": text}), timeout=TIMEOUT,
                               headers={"Content-Type": "application/json"}, allow_redirects=False)
        problem = "" if 200 <= answer.status_code < 300 else f"it answered HTTP {answer.status_code}"
    except requests.RequestException as exc:
        problem = f"it could not be reached ({type(exc).__name__})"  # the message may hold the URL
    if problem:
        runner.warning(f"The notification was not delivered: {problem}. Check notify-webhook (the secret's "
                       "URL); the deploy's result stands.", title="Notification not sent")
        return False
    runner.log("Notification sent to notify-webhook.")
    return True
