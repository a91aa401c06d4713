"""The agent's own record of good versions and of the last deploy's outcome, for rollback and status.

``last-good.json`` keeps the version that last deployed and verified healthy, and
``history``: the good versions before it, newest first. A rollback takes the
newest good version that is not the one running, and drops the newer entries, so
two rollbacks go two versions back. ``last-deploy.json`` says how the last
deploy (or rollback) ended. Both live in the state folder, written atomically.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ssm_action.agent.files import StateDir
from ssm_action.agent.output import utc_now

LAST_GOOD = "last-good.json"
LAST_DEPLOY = "last-deploy.json"
HISTORY_KEPT = 10


def good_versions(records: StateDir) -> List[Dict[str, Any]]:
    """Newest first: {sha, deploy_id, time, backup_path}."""
    last = records.read(LAST_GOOD)
    if not last.get("sha"):
        return []
    entry = {k: last.get(k) for k in ("sha", "deploy_id", "time", "backup_path")}
    older = [e for e in last.get("history") or [] if isinstance(e, dict) and e.get("sha")]
    return [entry] + older


def rollback_target(records: StateDir, running_sha: Optional[str]) -> Optional[Dict[str, Any]]:
    """The newest good version that is not the one running (None: nothing to go back to)."""
    for entry in good_versions(records):
        if entry["sha"] != running_sha:
            return entry
    return None


def record_good(records: StateDir, params: Dict[str, Any], backup_path: Optional[str]) -> None:
    """After a verified deploy: push it; after a rollback: it becomes the newest again."""
    versions = good_versions(records)
    if params.get("action") == "rollback":
        shas = [e["sha"] for e in versions]
        versions = versions[shas.index(params["sha"]) + 1:] if params["sha"] in shas else versions
    entry = {"sha": params["sha"], "deploy_id": params["deploy_id"], "time": utc_now(), "backup_path": backup_path}
    versions = [e for e in versions if e["sha"] != params["sha"]]
    records.write(LAST_GOOD, dict(entry, history=versions[:HISTORY_KEPT]))


def record_outcome(records: StateDir, params: Dict[str, Any], status: str, error: Optional[str]) -> None:
    records.write(LAST_DEPLOY, {"deploy_id": params["deploy_id"], "sha": params["sha"], "status": status,
                                "action": params.get("action", "deploy"), "time": utc_now(),
                                "error": error})
