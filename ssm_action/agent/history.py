"""The agent's own record of good versions and of the last deploy's outcome, for rollback and status.

``last-good.json`` keeps the version that last deployed and verified healthy, and
``history``: the good versions before it, newest first. A rollback takes the
newest good version that is not the one running, and drops the newer entries, so
two rollbacks go two versions back. ``last-deploy.json`` says how the last
deploy (or rollback) ended. Both live in the state folder, written atomically.

Each good version also keeps ``started_with``: how its app was started (the command,
entry, plain variables, secret REFERENCES, host and account; never a secret's value,
the references are resolved again at each start). Putting a version back starts it
that way, not with the parameters of the deploy that failed; a record written before
``started_with`` existed has none, and the current parameters are used.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Dict, List, Optional

from ssm_action.agent.files import StateDir, mistyped
from ssm_action.agent.journal import NULL, SHA
from ssm_action.agent.output import Reporter, utc_now
from ssm_action.contract.checks import parse_params
from ssm_action.contract.params import AgentParams
from ssm_action.agent.layout import LAST_DEPLOY, LAST_GOOD

HISTORY_KEPT = 10
STARTED_WITH = ("app_command", "entry", "app_env", "app_secrets", "app_host", "app_user")
ENTRY_KEYS = ("sha", "deploy_id", "time", "backup_path", "started_with")
ENTRY_TYPES = {"sha": str, "deploy_id": (str, NULL), "time": (str, NULL), "backup_path": (str, NULL),
               "started_with": (dict, NULL), "history": list}


def entry_problem(entry: Any) -> str:
    """Why a good version's record cannot be used ("" when it can)."""
    if not isinstance(entry, dict):
        return "not an object"
    entry = dict({"sha": None}, **entry)
    return mistyped(entry, ENTRY_TYPES) or ("" if SHA.fullmatch(entry["sha"]) else "sha is not a commit")


def last_good(records: StateDir) -> Dict[str, Any]:
    """``last-good.json`` when it is a usable record (set aside otherwise: ``StateDir.read``)."""
    return records.read(LAST_GOOD, entry_problem)


def good_versions(records: StateDir) -> List[Dict[str, Any]]:
    """Newest first: {sha, deploy_id, time, backup_path, started_with}."""
    last = last_good(records)
    if not last:
        return []
    entry = {k: last.get(k) for k in ENTRY_KEYS}
    older = [{k: e.get(k) for k in ENTRY_KEYS} for e in last.get("history") or [] if not entry_problem(e)]
    return [entry] + older


def rollback_target(records: StateDir, running_sha: Optional[str]) -> Optional[Dict[str, Any]]:
    """The newest good version that is not the one running (None: nothing to go back to)."""
    for entry in good_versions(records):
        if entry["sha"] != running_sha:
            return entry
    return None


def started_with(params: AgentParams) -> Dict[str, Any]:
    """What the app is started with under ``params`` (its JSON: secrets as references only)."""
    as_json = params.to_json()
    return {k: as_json[k] for k in STARTED_WITH}


def start_params(params: AgentParams, record: Any) -> AgentParams:
    """``params`` with a version's recorded ``started_with`` (written by this agent from checked
    parameters, checked again: a file on disk is no instruction); unchanged without a whole, valid record."""
    if not isinstance(record, dict) or not all(k in record for k in STARTED_WITH):
        return params
    wanted, _ = parse_params(dict(params.to_json(), **{k: record[k] for k in STARTED_WITH}))
    return wanted or params


def put_back_params(params: AgentParams, record: Any, rep: Reporter) -> AgentParams:
    """The parameters that start a version put back: its record's, unless this agent lacks a module they
    need (said): its payload carries only the features of the deploy that sent it (payload.FEATURES; the
    service modules include the secrets ones)."""
    wanted = start_params(params, record)
    need = "service" if wanted.app_host in ("service", "task") else "secrets" if wanted.app_secrets else ""
    if not need or importlib.util.find_spec("ssm_action.agent." + need):
        return wanted
    rep.say("the version put back was started with app-%s, which this agent does not carry: starting it "
            "with this deploy's parameters" % ("host service" if need == "service" else need))
    return params


def record_good(records: StateDir, params: AgentParams, backup_path: Optional[str]) -> None:
    """After a verified deploy: push it; after a rollback: it becomes the newest again."""
    versions = good_versions(records)
    if params.action == "rollback":
        shas = [e["sha"] for e in versions]
        versions = versions[shas.index(params.sha) + 1:] if params.sha in shas else versions
    entry = {"sha": params.sha, "deploy_id": params.deploy_id, "time": utc_now(), "backup_path": backup_path,
             "started_with": started_with(params)}
    versions = [e for e in versions if e["sha"] != params.sha]
    records.write(LAST_GOOD, dict(entry, history=versions[:HISTORY_KEPT]))


def record_outcome(records: StateDir, params: AgentParams, status: str, error: Optional[str]) -> None:
    records.write(LAST_DEPLOY, {"deploy_id": params.deploy_id, "sha": params.sha, "status": status,
                                "action": params.action, "time": utc_now(),
                                "error": error})
