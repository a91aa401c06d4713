"""The GitHub deployment of one deploy: created when it starts, a final status on every path,
and the post-step finaliser for a deployment the main step left open.

A GitHub failure never changes the deploy's result: it becomes a warning that
says how to fix it, and a line in the summary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssm_action import config, context, runner
from ssm_action.config.sections import GithubConfig
from ssm_action.context import RunContext
from ssm_action.github.client import Client, GitHubError, truncate

START_SECONDS = 30.0  # budget to create the deployment and its in_progress status
FINAL_SECONDS = 60.0  # budget for the final status
CANCEL_SECONDS = 5.0  # after a cancel the runner kills the container within seconds
STATE_ID = "deployment_id"  # GITHUB_STATE names read by the post-entrypoint
STATE_FINAL = "deployment_final"
OPEN_STATES = ("", "in_progress", "queued", "pending")  # "": created, but no status got through
KILLED = {"state": "error", "description": "The deploy step ended without a final status (killed or timed out)"}


def skip_reason(cfg: GithubConfig, dry_run: bool, ctx: RunContext) -> str:
    if not cfg.create_deployment:
        return "create-deployment is false"
    if dry_run:
        return "this is a dry run"
    if not cfg.github_token:
        return "github-token is empty"
    if not ctx.repository:
        return "GITHUB_REPOSITORY is not set (not in a workflow)"
    return ""


def status_body(state: str, description: str, log_url: str, environment_url: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"state": state, "description": truncate(runner.redact(description))}
    if log_url:
        body["log_url"] = log_url
    if environment_url:
        body["environment_url"] = environment_url
    return body


class Deployment:
    """This deploy's GitHub deployment. ``note`` says why it was not (fully) recorded."""

    def __init__(self, cfg: GithubConfig, ctx: RunContext, environment: str, transport: str, dry_run: bool):
        self.cfg = cfg
        self.ctx = ctx
        self.environment = environment
        self.transport = transport
        self.id: int | None = None
        self.task = "deploy"  # or deploy:rollback
        self.log_url = ""  # where the statuses link (the log streams); empty: the workflow run
        self.state = ""  # the last status posted
        self.note = skip_reason(cfg, dry_run, ctx)
        self.client = None if self.note else Client(ctx.api_url, ctx.repository, cfg.github_token)

    def start(self, targets: list[str]) -> None:
        """Create the deployment and mark it in_progress (a notice instead when skipped)."""
        if self.client is None:
            runner.notice(f"No GitHub deployment is recorded: {self.note}. The deploy goes ahead.",
                          title="GitHub deployment skipped")
            return
        try:
            self.id = self.client.create(self._create_body(targets), START_SECONDS)
        except GitHubError as exc:
            self._warn("GitHub deployment not recorded", f"Could not create the GitHub deployment: {exc}")
            return
        runner.set_output("deployment-id", str(self.id))
        runner.save_state(STATE_ID, str(self.id))
        doing = "Rolling back" if self.task != "deploy" else f"Deploying {self.ctx.sha[:12]} to"
        self._post("in_progress", f"{doing} {self.environment} via {self.transport}", START_SECONDS)

    def finish(self, state: str, description: str, seconds: float) -> None:
        """The final status; if it cannot be posted, the post-entrypoint tries again."""
        if self.id is None:
            return
        runner.save_state(STATE_FINAL, json.dumps(status_body(state, description, "")))
        if self._post(state, description, seconds, self.cfg.environment_url):
            runner.save_state(STATE_ID, "")  # nothing left for the post-entrypoint

    def _create_body(self, targets: list[str]) -> dict[str, Any]:
        ctx = self.ctx
        return {
            "ref": ctx.sha,
            "task": self.task,
            "auto_merge": False,  # the default merges the default branch into the ref (202, no deployment)
            "required_contexts": [],  # our gates are the checks; the default demands every context green (409)
            "environment": self.environment,
            "production_environment": self.environment == "production",
            "description": truncate(f"{ctx.sha[:12]} ({ctx.ref_label}) by {ctx.actor} "
                                    f"via {self.transport}"),
            "payload": {"tool": "ssm-deploy-action", "deploy_id": ctx.deploy_id, "run_url": ctx.run_url,
                        "transport": self.transport, "targets": targets},
        }

    def _post(self, state: str, description: str, seconds: float, environment_url: str = "") -> bool:
        if self.client is None or self.id is None:
            return False
        try:
            self.client.post_status(self.id, status_body(state, description, self.log_url or self.ctx.run_url,
                                                         environment_url), seconds)
        except GitHubError as exc:
            self._warn("GitHub deployment status not posted",
                       f"Could not set GitHub deployment {self.id} to {state}: {exc}")
            return False
        self.state = state
        return True

    def _warn(self, title: str, message: str) -> None:
        self.note = message
        runner.warning(message, title=title)


def finalise_leftover(env: Mapping[str, str] = os.environ) -> None:
    """The post-entrypoint: finish a deployment the main step left open (killed, or its post failed)."""
    deployment_id = env.get(f"STATE_{STATE_ID}", "")
    if not deployment_id.isdigit():
        return
    raw = config.raw_inputs(env)
    token = raw["github-token"].strip()
    runner.mask(token)
    ctx = context.from_env(Path.cwd(), env)
    client = Client(ctx.api_url, ctx.repository, token)
    final = json.loads(env.get(f"STATE_{STATE_FINAL}") or "{}") or KILLED
    try:
        latest = client.latest_state(int(deployment_id))
        if latest in OPEN_STATES:
            body = status_body(final["state"], final["description"], ctx.run_url, raw["environment-url"])
            client.post_status(int(deployment_id), body, FINAL_SECONDS)
            runner.log(f"GitHub deployment {deployment_id} was left {latest or 'without a status'}; "
                       f"set it to {final['state']}.")
    except GitHubError as exc:
        runner.warning(f"Could not finalise GitHub deployment {deployment_id}; it may still show in progress: {exc}",
                       title="GitHub deployment status not posted")
