"""Deploy mode: route to an environment, build the agent's parameters, run a transport, report.

The same parameter object goes to every target; the agent (ssm_action/agent.py)
does the work on each server. Transports: ``ssm`` (the product) and ``local``
(the same agent on this machine).
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
from typing import Any

from ssm_action import routing, runner, tracking
from ssm_action.config import Config
from ssm_action.context import RunContext
from ssm_action.errors import ActionError
from ssm_action.results import DeployOutcome, InstanceResult

SHA = re.compile(r"^[0-9a-f]{40}$")
HEALTH_ORDER = ("unknown", "unhealthy", "not_checked", "healthy")  # worst first


def agent_params(cfg: Config, ctx: RunContext) -> dict[str, Any]:
    """The agent's parameter object (its contract is documented in agent.py)."""
    if not SHA.match(ctx.sha):
        raise ActionError(
            "No commit to deploy",
            f"The commit to deploy is {ctx.sha or 'unknown'!r}, not a 40-character SHA. In a workflow "
            "GITHUB_SHA gives it; outside one, run from a git repository with at least one commit.",
        )
    local = cfg.transport == "local"
    return {
        "deploy_id": ctx.deploy_id,
        "app_dir": os.path.abspath(cfg.app_directory) if local else cfg.app_directory,
        "git_remote": cfg.git_remote,
        "branch": ctx.branch,
        "sha": ctx.sha,
        "venv_dir": cfg.venv_directory,
        # requirements-file is relative to working-directory; the agent reads it from the clone's root
        "requirements_file": posixpath.join(ctx.repo_prefix, cfg.requirements_file),
        "entry": cfg.app_entry,
        "python": "",  # the interpreter that runs the agent creates the venv
        "health_url": cfg.health_check_url,
        "health_timeout": cfg.health_check_timeout,
        "backup_dir": os.path.abspath(cfg.backup_directory) if local and cfg.backup_directory else cfg.backup_directory,
        "backup_retention": cfg.backup_retention,
        "rollback": cfg.rollback_on_failure,
        "platform": ("windows" if os.name == "nt" else "linux") if local else cfg.platform,
        "installer": cfg.server_installer,
        "hooks_dir": cfg.hooks_directory,
    }


def _run_transport(cfg: Config, ctx: RunContext, environment: str, params: dict[str, Any]) -> DeployOutcome:
    if cfg.transport == "local":
        from ssm_action.transports import local

        result = local.run(params, python=cfg.server_python or sys.executable, timeout=cfg.execution_timeout)
        return DeployOutcome("local", [result], log_url=result.log_url)
    from ssm_action.transports import ssm

    return ssm.deploy(cfg, ctx, environment, params)


def run(cfg: Config, ctx: RunContext, gates_ok: bool = True) -> bool:
    environment = routing.environment_for(cfg, ctx)
    runner.set_output("environment", environment)
    # However this ends (even cancelled), the GitHub deployment gets a final status and the audit record is kept.
    with tracking.track(cfg, ctx, environment) as track:
        if not gates_ok:
            runner.error("A blocking gate failed, so nothing was deployed. Fix the gates above and push again.",
                         title="Deploy skipped")
            runner.add_summary(f"## :no_entry: Deploy to {environment} skipped\n\nA blocking gate failed.\n")
            track.skip("a blocking gate failed")
            return False
        params = agent_params(cfg, ctx)
        track.start()
        runner.log(f"Deploying {ctx.sha[:12]} ({ctx.branch or 'no branch'}) to {environment} via {cfg.transport}")
        outcome = track.done(_run_transport(cfg, ctx, environment, params))
        report(outcome, ctx, environment)
        return outcome.ok


def _worst_health(results: list[InstanceResult]) -> str:
    states = [r.health for r in results]
    return min(states, key=lambda s: HEALTH_ORDER.index(s) if s in HEALTH_ORDER else 0, default="unknown")


def _per_instance(results: list[InstanceResult], key: str) -> str:
    """One value when every target agrees, else id=value pairs."""
    values = {r.instance_id: str((r.agent or {}).get(key) or "") for r in results}
    distinct = set(values.values()) - {""}
    if len(distinct) <= 1:
        return distinct.pop() if distinct else ""
    return ", ".join(f"{iid}={value}" for iid, value in values.items() if value)


def report(outcome: DeployOutcome, ctx: RunContext, environment: str) -> None:
    """Outputs, one annotation per failed target, and the summary table."""
    results = outcome.results
    runner.set_output("command-id", outcome.command_id)
    runner.set_output("instance-ids", ",".join(r.instance_id for r in results))
    runner.set_output("deployed-sha", ctx.sha if outcome.ok and not outcome.dry_run else "")
    runner.set_output("previous-sha", _per_instance(results, "previous_sha"))
    runner.set_output("backup-path", _per_instance(results, "backup_path"))
    runner.set_output("rolled-back", str(any(r.rolled_back for r in results)).lower())
    runner.set_output("health-status", _worst_health(results) if results else "not_checked")
    runner.set_output("log-url", outcome.log_url)
    for r in outcome.failed:
        why = r.reason or f"the command ended {r.status}"
        back = " The previous version was put back." if r.rolled_back else ""
        runner.error(f"{r.instance_id}: {why}{back}", title=f"Deploy failed on {r.instance_id}")
    runner.add_summary(summary_markdown(outcome, ctx, environment))


def _row(r: InstanceResult) -> str:
    agent = r.agent or {}
    icon = ":white_check_mark:" if r.ok else ":x:"
    seconds = f"{r.duration:.1f} s" if r.duration is not None else "-"
    health = r.health
    code = agent.get("health_status")
    health += f" ({code})" if code else ""
    log = f"[log]({r.log_url})" if r.log_url.startswith("http") else (f"`{r.log_url}`" if r.log_url else "-")
    return (f"| `{r.instance_id}` | {icon} {r.status} | {seconds} | {health} | "
            f"{'yes' if r.rolled_back else 'no'} | {log} |")


def summary_markdown(outcome: DeployOutcome, ctx: RunContext, environment: str) -> str:
    if outcome.dry_run:
        return f"## :mag: Deploy to {environment}: dry run\n\nNothing was sent; the request is in the log.\n"
    failed = len(outcome.failed)
    total = len(outcome.results)
    head = (f"## :rocket: Deployed `{ctx.sha[:12]}` to {environment}" if outcome.ok
            else f"## :x: Deploy to {environment} failed on {failed} of {total} target(s)")
    lines = [head, "", f"Commit `{ctx.sha}` ({ctx.branch or 'no branch'}), transport {outcome.transport}"
             + (f", command `{outcome.command_id}`" if outcome.command_id else "") + ".", "",
             "| target | status | duration | health | rolled back | log |", "|---|---|---|---|---|---|"]
    lines += [_row(r) for r in outcome.results]
    return "\n".join(lines) + "\n"
