"""The plan of one deploy: the agent's parameters, validated by the contract, and the agent's zipapp.

The parameters' JSON object is built from the config's sections (and adapted by the
transport), then parsed into ``contract.AgentParams`` twice: at config time (with a
stand-in commit, so a bad input is an ``::error`` on the input each problem names)
and when the plan is made from the run's context (the commit and branch), still
before any call. The plan keeps the typed parameters; the agent gets their JSON.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from ssm_action import runner, transports
from ssm_action.config.sections import DeployConfig, ServerConfig
from ssm_action.context import RunContext
from ssm_action.contract import parse_params, ref_texts
from ssm_action.deploy.model import Plan
from ssm_action.errors import ActionError
from ssm_action.payload import build as build_payload
from ssm_action.payload import build_full, extras_for

SHA = re.compile(r"^[0-9a-f]{40}$")
STAND_IN_SHA = "0" * 40  # config time: the commit is known only from the run's context


def agent_params(cfg: DeployConfig, ctx: RunContext) -> dict[str, Any]:
    """The agent's parameter object (JSON, not yet checked), as the transport's targets take it."""
    server = cfg.server
    params = {
        "deploy_id": ctx.deploy_id,
        "app_dir": server.app_directory,
        "git_remote": server.git_remote,
        "branch": ctx.branch,
        "sha": ctx.sha,
        "venv_dir": server.venv_directory,
        # requirements-file is relative to working-directory; the agent reads it from the clone's root
        "requirements_file": posixpath.join(ctx.repo_prefix, server.requirements_file),
        "entry": server.app_entry,
        "python": "",  # the interpreter that runs the agent creates the venv
        "health_url": server.health_check_url,
        "health_timeout": server.health_check_timeout,
        "backup_dir": server.backup_directory,
        "backup_retention": server.backup_retention,
        "rollback_on_failure": server.rollback_on_failure,
        "platform": cfg.targets.platform,
        "installer": server.server_installer,
        "hooks_dir": server.hooks_directory,
        "action": cfg.agent_action.value,
        **app_params(server),
    }
    if cfg.delivery.artifact:
        params.update(artifact_stand_in(server.requirements_file))
    return transports.get(cfg.transport).adapt(params)


# -- artifact delivery: deploy/shipping.py puts the real reference in once the artifact is packed
def artifact_stand_in(requirements_file: str) -> dict[str, Any]:
    """The artifact's parameters before it is packed; its root is working-directory, so requirements_file is
    relative to it."""
    return {"source": "artifact", "requirements_file": requirements_file, "artifact_url": "stand-in://not-packed",
            "artifact_sha256": STAND_IN_SHA + STAND_IN_SHA[:24], "artifact_size": 1}


def app_params(server: ServerConfig) -> dict[str, Any]:
    """The app block: secret REFERENCES only; the agent reads the values on the server."""
    app = server.app
    return {"app_command": list(app.app_command), "app_env": dict(app.app_env),
            "app_secrets": ref_texts(dict(app.app_secrets)), "app_host": app.app_host, "app_user": app.app_user,
            "stop_timeout": app.stop_timeout, "start_grace": app.start_grace, "health_status": app.health_check_status,
            "health_contains": app.health_check_contains}


def input_errors(cfg: DeployConfig) -> list[tuple[str, str]]:
    """(input, problem) for each parameter the agent would refuse; the commit is checked later."""
    stand_in = RunContext(actor="", repository="", sha=STAND_IN_SHA, branch="", event="", run_id="",
                          run_attempt="", server_url="", api_url="")
    _, problems = parse_params(agent_params(cfg, stand_in))
    # deploy_id, sha and branch (no input: from the run) have valid stand-ins here; build() checks the real ones
    return [(problem.input, problem.message) for problem in problems if problem.input]


def build(cfg: DeployConfig, ctx: RunContext, environment: str) -> Plan:
    """The plan, or an ActionError before any call (no commit, a branch the agent refuses)."""
    if not SHA.match(ctx.sha):
        raise ActionError(
            "No commit to deploy",
            f"The commit to deploy is {ctx.sha or 'unknown'!r}, not a 40-character SHA. In a workflow "
            "GITHUB_SHA gives it; outside one, run from a git repository with at least one commit.",
            anchor="routing-and-the-commit",
        )
    params, problems = parse_params(agent_params(cfg, ctx))
    if params is None:
        errors = [problem.message for problem in problems]
        raise ActionError("Invalid deploy parameters",
                          "The deploy agent would refuse these parameters: " + "; ".join(errors) + ".",
                          anchor="routing-and-the-commit")
    for value in params.secret_values():  # never in a log, even a dry run's
        runner.mask(value)
    # Through SSM with a bucket the agent travels by S3 (transports/ssm/agent_store.py): size is no concern.
    by_s3 = cfg.transport == "ssm" and bool(cfg.targets.s3_bucket)
    agent = build_full() if by_s3 else build_payload(extras_for(params.to_json()))
    return Plan(environment=environment, ctx=ctx, transport=cfg.transport, dry_run=cfg.dry_run, params=params,
                payload=agent, targets=cfg.targets, server=cfg.server,
                python_on_server=cfg.python_on_server)
