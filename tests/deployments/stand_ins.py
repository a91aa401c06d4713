"""Stand-ins for what a transport reports, and the inputs the deployment tests share."""

from __future__ import annotations

from ssm_action.results import DeployOutcome, InstanceResult

TOKEN = "ghs_TESTTOKEN0123456789abcdefSECRET"  # also a secret the audit record must never hold
INSTANCES = ("i-0123456789abcdef0", "i-0123456789abcdef1", "i-0123456789abcdef2")
BASE_INPUTS = {"mode": "deploy", "transport": "ssm", "instance-ids": ",".join(INSTANCES),
               "app-directory": "C:\\apps\\web", "aws-region": "us-east-1", "github-token": TOKEN}


def instance(instance_id: str, how: str) -> InstanceResult:
    """One target's result: ok, failed (not rolled back) or rolled_back."""
    ok = how == "ok"
    agent = {"status": "success" if ok else "failed", "rolled_back": how == "rolled_back",
             "health": "healthy" if ok else "unhealthy", "previous_sha": "f" * 40,
             "error": "" if ok else "health check got 500"}
    return InstanceResult(instance_id, "Success" if ok else "Failed", duration=2.5, agent=agent)


def outcome(*hows: str) -> DeployOutcome:
    return DeployOutcome("ssm", [instance(i, how) for i, how in zip(INSTANCES, hows)], command_id="cmd-0001")
