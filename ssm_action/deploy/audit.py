"""The audit record of one deploy: who, what, when, where and the outcome.

It is built only from named, non-secret fields (never from the inputs as a
whole), and masked values are redacted once more before it leaves the process:
output ``audit-json``, the job summary and, with ``s3-bucket``, one object at
``s3://<bucket>/<prefix>/audit/<environment>/<timestamp>-<sha>.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from ssm_action import runner, summary
from ssm_action.config.sections import AuditConfig, DeployConfig
from ssm_action.context import RunContext
from ssm_action.deploy.model import DeployOutcome, InstanceResult, Verdict

ERROR_LIMIT = 500  # characters of an instance's error kept in the record


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instance(r: InstanceResult) -> dict[str, Any]:
    error = "" if r.ok else str(r.reason or "")
    return {
        "instance_id": r.instance_id,
        "status": r.status,
        "ok": r.ok,
        "rolled_back": r.rolled_back,
        "health": r.health,
        "previous_sha": (r.agent.previous_sha if r.agent else "") or "",
        "running_sha": (r.agent.running_sha if r.agent else "") or "",
        "seconds": round(r.duration, 1) if r.duration is not None else None,
        "error": runner.redact(error)[:ERROR_LIMIT],  # before JSON escaping could hide a secret from redact
    }


@dataclass
class Record:
    actor: str
    repository: str
    ref: str
    sha: str
    environment: str
    targets: list[str]
    transport: str
    run_url: str
    started_at: str
    ended_at: str = ""
    result: str = ""  # success, failure, error, cancelled, skipped or dry_run
    summary: str = ""  # one line: what happened
    command_id: str = ""
    instances: list[dict[str, Any]] = field(default_factory=list)
    rolled_back: bool = False
    deployment_id: int | None = None
    agent_sha256: str = ""  # the zipapp sent to the targets
    action: str = "deploy"  # deploy, rollback or status
    waves: list[dict[str, Any]] = field(default_factory=list)  # the rollout's, when it had several
    fleet_rolled_back: list[str] = field(default_factory=list)  # put back by rollback-fleet-on-failure

    def finish(self, final: Verdict, outcome: DeployOutcome | None, deployment_id: int | None) -> None:
        self.ended_at = utc_now()
        self.result = final.result
        self.summary = runner.redact(final.line)
        self.deployment_id = deployment_id
        if outcome is not None:
            self.command_id = outcome.command_id
            self.instances = [_instance(r) for r in outcome.results]
            self.rolled_back = any(r.rolled_back for r in outcome.results)
            self.action = outcome.action
            self.waves = [w.to_dict() for w in outcome.waves] if len(outcome.waves) > 1 else []
            self.fleet_rolled_back = outcome.fleet_rolled_back

    def to_json(self, indent: int | None = None) -> str:
        return runner.redact(json.dumps(asdict(self), indent=indent))

    def s3_key(self, prefix: str) -> str:
        stamp = self.started_at.replace("-", "").replace(":", "")
        return "/".join(p for p in (prefix, "audit", self.environment, f"{stamp}-{self.sha}.json") if p)


def begin(cfg: DeployConfig, ctx: RunContext, environment: str) -> Record:
    return Record(actor=ctx.actor, repository=ctx.repository, ref=ctx.branch, sha=ctx.sha,
                  environment=environment, targets=cfg.targets.names(cfg.transport), transport=cfg.transport,
                  run_url=ctx.run_url, started_at=utc_now(), action=cfg.agent_action.value)


def upload(cfg: AuditConfig, dry_run: bool, record: Record) -> str:
    """Store the record in S3; returns where, or why not (a warning: the deploy's result stands)."""
    if not cfg.s3_bucket:
        return "not stored (no s3-bucket)"
    if dry_run:
        return "not stored (dry run)"
    import boto3  # lazily: only deploys with a bucket need it
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError

    key = record.s3_key(cfg.s3_key_prefix)
    where = f"s3://{cfg.s3_bucket}/{key}"
    allowed = "/".join(p for p in (cfg.s3_bucket, cfg.s3_key_prefix, "audit/*") if p)
    try:
        s3 = boto3.client("s3", region_name=cfg.aws_region or None,
                          config=BotoConfig(connect_timeout=5, read_timeout=15, retries={"max_attempts": 3}))
        s3.put_object(Bucket=cfg.s3_bucket, Key=key, Body=record.to_json(indent=2).encode("utf-8"),
                      ContentType="application/json")
    except (BotoCoreError, ClientError) as exc:
        runner.warning(f"Could not store the audit record at {where}: {exc}. Give the workflow's AWS role "
                       f"s3:PutObject on arn:aws:s3:::{allowed}.",
                       title="Audit record not stored")
        return f"not stored ({type(exc).__name__}, see the warning)"
    return where


def summary_markdown(record: Record, github: str, stored: str) -> str:
    where = ", ".join(summary.code(t) for t in record.targets) or "-"
    where += f" (command {summary.code(record.command_id)})" if record.command_id else ""
    rows = [
        ("who", summary.escape(record.actor)),
        ("what", f"{summary.code(record.sha)} ({summary.escape(record.ref or 'no branch')}) of "
                 f"{summary.escape(record.repository or '-')}"),
        ("when", f"{record.started_at} to {record.ended_at}"),
        ("where", f"{summary.escape(record.environment)}: {where}"),
        ("outcome", f"**{record.result}**: {summary.escape(record.summary)}"),
        ("agent", summary.code(record.agent_sha256 and f"sha256 {record.agent_sha256}")),
        ("GitHub deployment", summary.escape(github)),
        ("audit record", summary.escape(stored)),
    ]
    return (summary.headline("", "Audit record", level=3) + "\n" + summary.table(("", ""), rows) + "\n"
            + summary.details("audit JSON", summary.fenced(record.to_json(indent=2), "json")))


def publish(cfg: DeployConfig, record: Record, github: str) -> None:
    """Output audit-json, the summary section and the S3 object."""
    runner.set_output("audit-json", record.to_json())
    runner.add_summary(summary_markdown(record, github, upload(cfg.audit, cfg.dry_run, record)))
