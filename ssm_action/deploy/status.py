"""Status mode: a read-only agent run on each target; outputs and a summary table, nothing recorded.

The run succeeds when every target answered and none is unhealthy, so a
scheduled status workflow fails (and notifies) when a server is down.
"""

from __future__ import annotations

import json

from ssm_action import runner, summary, transports
from ssm_action.config.sections import DeployConfig
from ssm_action.context import RunContext
from ssm_action.deploy import notify, plan
from ssm_action.deploy.model import DeployOutcome, InstanceResult, worst_health

COLUMNS = ("target", "commit", "since (UTC)", "health", "last deploy", "outcome", "deploy lock")


def healthy(r: InstanceResult) -> bool:
    return r.ok and r.health != "unhealthy"


def record(r: InstanceResult) -> dict[str, object]:
    agent = r.agent
    last = (agent.last_deploy if agent else None) or {}
    return {"instance_id": r.instance_id, "answered": r.ok, "sha": agent.running_sha if agent else None,
            "since": agent.since if agent else None, "health": r.health,
            "last_deploy_id": last.get("deploy_id"), "last_outcome": last.get("status"),
            "last_deploy_at": last.get("time"), "lock": agent.lock if agent else None,
            "error": "" if r.ok else runner.redact(r.reason or r.status)}


def _row(item: dict[str, object]) -> list[str]:
    icon = ":white_check_mark:" if item["answered"] and item["health"] != "unhealthy" else ":x:"
    outcome = item["last_outcome"] or "-"
    return [summary.code(item["instance_id"]), summary.code(str(item["sha"] or "")[:12] or "-"),
            summary.cell(item["since"] or ""), f"{icon} {summary.escape(item['health'])}",
            summary.cell(item["last_deploy_id"] or "", as_code=True), summary.escape(outcome),
            summary.escape(item["lock"] or "free") if item["answered"] else summary.escape(item["error"])]


def report(outcome: DeployOutcome) -> bool:
    items = [record(r) for r in outcome.results]
    ok = bool(items) and all(healthy(r) for r in outcome.results)
    runner.set_output("status-json", json.dumps(items, separators=(",", ":")))
    runner.set_output("instance-ids", ",".join(r.instance_id for r in outcome.results))
    runner.set_output("succeeded-ids", ",".join(r.instance_id for r in outcome.results if healthy(r)))
    runner.set_output("failed-ids", ",".join(r.instance_id for r in outcome.results if not healthy(r)))
    runner.set_output("health-status", worst_health(outcome.results) if outcome.results else "not_checked")
    runner.set_output("command-id", outcome.command_id)
    shas = {item["sha"] for item in items if item["sha"]}
    runner.set_output("deployed-sha", str(next(iter(shas))) if len(shas) == 1 and ok else "")
    if len(shas) > 1:
        runner.warning(f"The targets run {len(shas)} different commits (see the status table): a rollout stopped "
                       "part-way, or a server was deployed by hand. Deploy again to bring them together.",
                       title="Mixed versions")
    for r in outcome.results:
        if not healthy(r):
            runner.error(f"{r.instance_id}: {r.reason or 'health ' + r.health}", title=f"Status: {r.instance_id}")
    bad = sum(not healthy(r) for r in outcome.results)
    head = (summary.headline(":white_check_mark:", f"Status: {len(items)} target(s) healthy") if ok
            else summary.headline(":x:", f"Status: {bad} of {len(items)} target(s) unhealthy or not answering"))
    runner.add_summary(head + "\nRead only: nothing was changed on the servers.\n\n"
                       + summary.table(COLUMNS, [_row(item) for item in items]))
    return ok


def run(cfg: DeployConfig, ctx: RunContext) -> bool:
    the_plan = plan.build(cfg, ctx, cfg.environment or "status")
    runner.log(f"Asking {', '.join(cfg.targets.names(cfg.transport))} for their status via {cfg.transport} "
               "(read only).")
    outcome = transports.get(cfg.transport).run(the_plan)
    if outcome.dry_run:
        return True
    ok = report(outcome)
    bad = sum(not healthy(r) for r in outcome.results)
    line = f"{len(outcome.results) - bad} of {len(outcome.results)} target(s) healthy"
    notify.send(cfg.notify_webhook, notify.message(ctx, "Status", cfg.environment or "the targets",
                                                   "success" if ok else "failure", line, outcome.log_url))
    return ok
