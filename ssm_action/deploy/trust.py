"""No deploy from untrusted events: a fork's pull request, comments and the like never reach the servers.

``pull_request`` and ``workflow_run`` are trusted when their head is this
repository (someone with write access pushed it); from a fork, or when the
event payload cannot tell, they are not. Events anyone can trigger on a public
repository (issues, comments, reviews, ``pull_request_target`` from a fork) are not
either, nor a ``workflow_run`` that such an event (or ``pull_request_target``, whose
head is the base repository even for a fork) started. ``allow-untrusted-events: true``
lifts the rule.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from ssm_action.config.sections import DeployConfig
from ssm_action.context import RunContext
from ssm_action.errors import ActionError

ANYONE_CAN_TRIGGER = frozenset({"issues", "issue_comment", "pull_request_review", "pull_request_review_comment",
                                "discussion", "discussion_comment", "fork", "watch"})
# What may start the run a workflow_run follows: its head repository alone cannot tell a
# pull_request_target (run on the base repository for a fork's code) from a push.
UNTRUSTED_UPSTREAM = ANYONE_CAN_TRIGGER | {"pull_request_target", "workflow_run"}
HEAD_REPOSITORY = {  # event -> where its payload names the repository the code comes from
    "pull_request": ("pull_request", "head", "repo", "full_name"),
    "pull_request_target": ("pull_request", "head", "repo", "full_name"),
    "workflow_run": ("workflow_run", "head_repository", "full_name"),
}


def _payload(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH", "")
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _dig(value: Any, keys: tuple[str, ...]) -> str:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def why_untrusted(ctx: RunContext, env: Mapping[str, str] = os.environ) -> str:
    """Why this run's event may not deploy; "" when it may."""
    if ctx.event in ANYONE_CAN_TRIGGER:
        return f"the {ctx.event} event, which anyone who can comment or react can trigger"
    if ctx.event not in HEAD_REPOSITORY:
        return ""
    payload = _payload(env)
    head = _dig(payload, HEAD_REPOSITORY[ctx.event])
    if not head:
        return f"a {ctx.event} event whose payload does not say where its code comes from"
    if head.lower() != ctx.repository.lower():
        return f"a {ctx.event} event from the fork {head}"
    if ctx.event == "workflow_run":
        upstream = _dig(payload, ("workflow_run", "event"))
        if not upstream or upstream in UNTRUSTED_UPSTREAM:
            return f"a workflow_run that followed a run started by {upstream or 'an event its payload does not name'}"
    return ""


def check(cfg: DeployConfig, ctx: RunContext, env: Mapping[str, str] = os.environ) -> None:
    """ActionError before any AWS or GitHub call when the event may not deploy."""
    why = why_untrusted(ctx, env)
    if not why or cfg.allow_untrusted_events:
        return
    raise ActionError(
        "Untrusted event",
        f"This run was triggered by {why}; a deploy from it would put code or a trigger from outside the "
        "repository on your servers, so nothing was deployed. Deploy from push, workflow_dispatch or a "
        "same-repository pull request, or set allow-untrusted-events: true for a workflow you have reviewed.",
        anchor="untrusted-events",
    )
