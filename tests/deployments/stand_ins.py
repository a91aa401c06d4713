"""Stand-ins for a transport and what it reports, and the inputs the deployment tests share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ssm_action.contract import AgentResult
from ssm_action.deploy.model import DeployOutcome, InstanceResult, Plan

TOKEN = "ghs_TESTTOKEN0123456789abcdefSECRET"  # also a secret the audit record must never hold
INSTANCES = ("i-0123456789abcdef0", "i-0123456789abcdef1", "i-0123456789abcdef2")
BASE_INPUTS = {"mode": "deploy", "transport": "ssm", "instance_ids": ",".join(INSTANCES),
               "app_directory": "C:\\apps\\web", "aws_region": "us-east-1", "github_token": TOKEN}


def instance(instance_id: str, how: str) -> InstanceResult:
    """One target's result: ok, failed (not rolled back) or rolled_back."""
    ok = how == "ok"
    agent = AgentResult(status="success" if ok else "failed", rolled_back=how == "rolled_back",
                        health="healthy" if ok else "unhealthy", previous_sha="f" * 40,
                        error="" if ok else "health check got 500")
    return InstanceResult(instance_id, "Success" if ok else "Failed", duration=2.5, agent=agent)


def outcome(*hows: str) -> DeployOutcome:
    return DeployOutcome("ssm", [instance(i, how) for i, how in zip(INSTANCES, hows)], command_id="cmd-0001")


class StandInTransport:
    """Stands in for the SSM transport: sends nothing, reports what ``report(plan)`` returns."""

    name = "ssm"

    def __init__(self, report: Callable[[Plan], DeployOutcome]):
        self.report = report

    def adapt(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def run(self, plan: Plan) -> DeployOutcome:
        return self.report(plan)
