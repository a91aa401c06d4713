"""What a deploy leaves for people: the step outputs, one annotation per failed target, the summary table."""

from __future__ import annotations

import json

from ssm_action import runner, summary
from ssm_action.context import RunContext
from ssm_action.deploy import status, timeline
from ssm_action.deploy.model import DeployOutcome, InstanceResult, worst_health

COLUMNS = ("target", "status", "duration", "health", "rolled back", "log")


def _per_instance(results: list[InstanceResult], key: str) -> str:
    """One value when every target agrees, else id=value pairs."""
    values = {r.instance_id: str(getattr(r.agent, key, None) or "") for r in results}
    distinct = set(values.values()) - {""}
    if len(distinct) <= 1:
        return distinct.pop() if distinct else ""
    return ", ".join(f"{iid}={value}" for iid, value in values.items() if value)


def report(outcome: DeployOutcome, ctx: RunContext, environment: str) -> None:
    """Outputs, one annotation per failed target, and the summary table."""
    results = outcome.results
    runner.set_output("command-id", outcome.command_id)
    runner.set_output("instance-ids", ",".join(r.instance_id for r in results))
    deployed = ctx.sha if outcome.action == "deploy" else _per_instance(results, "running_sha")
    runner.set_output("deployed-sha", deployed if outcome.ok and not outcome.dry_run else "")
    runner.set_output("previous-sha", _per_instance(results, "previous_sha"))
    runner.set_output("backup-path", _per_instance(results, "backup_path"))
    runner.set_output("rolled-back", str(any(r.rolled_back for r in results)).lower())
    runner.set_output("health-status", worst_health(results) if results else "not_checked")
    runner.set_output("log-url", outcome.log_url)
    by_state(outcome)
    for r in outcome.failed:
        why = r.reason or f"the command ended {r.status}"
        back = " The previous version was put back." if r.rolled_back else ""
        runner.error(f"{r.instance_id}: {why}{back}", title=f"Deploy failed on {r.instance_id}")
    for r, warning in _warnings(results):
        runner.warning(f"{r.instance_id}: {warning}", title=f"Deploy warning on {r.instance_id}")
    for r in outcome.fleet_rollback:
        if not r.ok:
            runner.error(f"{r.instance_id}: the fleet rollback failed ({r.reason or r.status}); it may still run "
                         "the new version: run mode rollback on it, or deploy a fix.", title="Fleet rollback failed")
    runner.add_summary(summary_markdown(outcome, ctx, environment))


def by_state(outcome: DeployOutcome) -> None:
    """The ids per state, and the waves: what a later step (or a re-run on the failed ones) needs."""
    put_back = set(outcome.fleet_rolled_back)  # they run the previous version again
    ids = {"succeeded-ids": [r for r in outcome.results if r.ok and r.instance_id not in put_back],
           "failed-ids": outcome.failed,
           "not-started-ids": outcome.not_started}
    for name, results in ids.items():
        runner.set_output(name, ",".join(r.instance_id for r in results))
    runner.set_output("fleet-rolled-back-ids", ",".join(outcome.fleet_rolled_back))
    runner.set_output("waves-json", json.dumps([w.to_dict() for w in outcome.waves], separators=(",", ":")))
    if outcome.status_before:  # a re-run: what each target ran before it, as a status run records it
        items = [{**status.record(r), "skipped": outcome.skipped.get(r.instance_id, "")} for r in outcome.status_before]
        runner.set_output("status-json", json.dumps(items, separators=(",", ":")))


def _log_cell(url: str) -> str:
    return summary.link("log", url) if url.startswith("http") else summary.cell(url, as_code=True)


def _row(r: InstanceResult) -> list[str]:
    icon = ":white_check_mark:" if r.ok else ":x:" if r.started else ":white_circle:"
    seconds = f"{r.duration:.1f} s" if r.duration is not None else "-"
    code = r.agent.health_code if r.agent else None
    health = r.health + (f" ({code})" if code else "")
    return [summary.code(r.instance_id), f"{icon} {summary.escape(r.status)}", seconds, summary.escape(health),
            "yes" if r.rolled_back else "no", _log_cell(r.log_url)]


def summary_markdown(outcome: DeployOutcome, ctx: RunContext, environment: str) -> str:
    where = summary.escape(environment)
    if outcome.dry_run:
        return (summary.headline(":mag:", f"Deploy to {where}: dry run")
                + "\nNothing was sent; the request is in the log.\n")
    failed = len(outcome.failed)
    total = len(outcome.results)
    done = (f"Deployed {summary.code(ctx.sha[:12])} to" if outcome.action == "deploy"
            else "Put the last good version back on")
    what = "Deploy" if outcome.action == "deploy" else "Rollback"
    head = (summary.headline(":rocket:", f"{done} {where}") if outcome.ok
            else summary.headline(":x:", f"{what} to {where} failed on {failed} of {total} target(s)")
            if failed or not outcome.stopped_by else summary.headline(":x:", f"{what} to {where} stopped by an alarm"))
    command = f", command {summary.code(outcome.command_id)}" if outcome.command_id else ""
    line = (f"Commit {summary.code(ctx.sha)} ({summary.escape(ctx.ref_label)}), "
            f"transport {summary.escape(outcome.transport)}{command}.")
    if outcome.skipped:
        line += (f" Re-run: {len(outcome.skipped)} target(s) skipped, already running this commit "
                 "(`redeploy: true` deploys to them too).")
    if outcome.stopped_by:
        line += f" Rollout stopped: {summary.escape(outcome.stopped_by)}."
    if outcome.not_started:
        why = "the rollout stopped" if outcome.stopped_by else "the error budget was exceeded"
        line += f" {len(outcome.not_started)} target(s) not started: {why}."
    if outcome.fleet_rollback:
        line += (f" Fleet rollback: {len(outcome.fleet_rolled_back)} of {len(outcome.fleet_rollback)} updated "
                 "target(s) put back.")
    return (f"{head}\n{line}\n\n" + timeline.markdown(outcome)
            + summary.table(COLUMNS, [_row(r) for r in outcome.results]) + _reasons(outcome.failed)
            + _warning_list(outcome.results)
            + _bullets("Skipped", [(r, outcome.skipped[r.instance_id]) for r in outcome.results
                                   if r.instance_id in outcome.skipped]))


def _warnings(results: list[InstanceResult]) -> list[tuple[InstanceResult, str]]:
    return [(r, warning) for r in results for warning in (r.agent.warnings if r.agent else [])]


def _warning_list(results: list[InstanceResult]) -> str:
    return _bullets("Warnings", _warnings(results))


def _reasons(failed: list[InstanceResult]) -> str:
    """Why each target failed, under the table: the line a reader needs first, as in the annotations."""
    return _bullets("Why", [(r, (r.reason or f"the command ended {r.status}")
                             + (" The previous version was put back." if r.rolled_back else "")) for r in failed])


def _bullets(title: str, items: list[tuple[InstanceResult, str]]) -> str:
    if not items:
        return ""
    lines = [f"- {summary.code(r.instance_id)}: {summary.escape(text)}" for r, text in items]
    return f"\n**{title}:**\n\n" + "\n".join(lines) + "\n"
