"""The audit record: in moto's S3, in the summary and the audit-json output, never with a secret."""

from __future__ import annotations

import json
import re

import boto3

import dataclasses

from ssm_action.deploy import audit
from tests.deployments.stand_ins import INSTANCES, TOKEN, outcome
from tests.runner_files import annotations

SHA = "0123456789abcdef0123456789abcdef01234567"
KEY = re.compile(rf"^deploys/app/audit/production/\d{{8}}T\d{{6}}Z-{SHA}\.json$")


def leaking_transport(*_):
    """A target whose error output echoes the token (a hook that printed its environment)."""
    result = outcome("ok", "rolled_back", "ok")
    target = result.results[1]
    target.agent = dataclasses.replace(target.agent, error=f"hook failed: GITHUB_TOKEN={TOKEN}")
    return result


def test_the_record_lands_in_s3_and_the_summary_without_a_secret(action, aws, runner_files):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="audit-bucket")
    assert action(leaking_transport, s3_bucket="audit-bucket", s3_key_prefix="/deploys/app/") is False
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket="audit-bucket")["Contents"]]
    assert KEY.match(key), key
    stored = s3.get_object(Bucket="audit-bucket", Key=key)["Body"].read().decode()
    output = runner_files.outputs()["audit-json"]
    record = json.loads(stored)
    assert record == json.loads(output)
    assert {k: record[k] for k in ("actor", "repository", "ref", "sha", "environment", "targets", "transport",
                                   "command_id", "result", "rolled_back", "run_url", "deployment_id")} == {
        "actor": "octocat", "repository": "octo-org/octo-app", "ref": "main", "sha": SHA,
        "environment": "production", "targets": list(INSTANCES), "transport": "ssm", "command_id": "cmd-0001",
        "result": "failure", "rolled_back": True, "run_url": "https://github.com/octo-org/octo-app/actions/runs/4242",
        "deployment_id": 1}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", record["started_at"])
    assert record["started_at"] <= record["ended_at"]
    assert [(i["instance_id"], i["ok"], i["rolled_back"]) for i in record["instances"]] == [
        (INSTANCES[0], True, False), (INSTANCES[1], False, True), (INSTANCES[2], True, False)]
    assert record["instances"][1]["error"] == "hook failed: GITHUB_TOKEN=***"
    summary = runner_files.summary.read_text()
    assert f"| audit record | s3://audit-bucket/{key} |" in summary
    assert "| outcome | **failure**: 1/3 target(s) failed; rolled back |" in summary
    assert '"rolled_back": true' in summary  # the JSON is there too, in a <details> block
    for text in (stored, output, summary, runner_files.output.read_text(), runner_files.state.read_text()):
        assert TOKEN not in text and "TESTTOKEN" not in text


def test_a_failed_upload_is_a_warning_that_names_the_permission(action, aws, runner_files, capsys):
    assert action(s3_bucket="no-such-bucket") is True  # the deploy's own result
    [warning] = annotations(capsys.readouterr().out, "warning")
    assert warning.startswith("Could not store the audit record at s3://no-such-bucket/ssm-deploy/audit/production/")
    assert "s3:PutObject on arn:aws:s3:::no-such-bucket/ssm-deploy/audit/*" in warning
    assert "| audit record | not stored (NoSuchBucket, see the warning) |" in runner_files.summary.read_text()


def test_nothing_is_stored_without_a_bucket_or_in_a_dry_run(action, aws, runner_files):
    action()
    assert "| audit record | not stored (no s3-bucket) |" in runner_files.summary.read_text()
    boto3.client("s3").create_bucket(Bucket="audit-bucket")
    action(s3_bucket="audit-bucket", dry_run="true")
    assert "| audit record | not stored (dry run) |" in runner_files.summary.read_text()
    assert boto3.client("s3").list_objects_v2(Bucket="audit-bucket")["KeyCount"] == 0


def test_the_key_without_a_prefix():
    record = audit.Record("a", "o/r", "main", SHA, "staging", ["local"], "local", "", "2025-01-02T03:04:05Z")
    assert record.s3_key("") == f"audit/staging/20250102T030405Z-{SHA}.json"
