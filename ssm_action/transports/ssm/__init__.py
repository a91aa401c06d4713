"""The ``ssm`` transport: the agent's zipapp sent to EC2 instances with SSM Run Command.

command.py (one deploy), rollout.py (the waves over the fleet), waves.py (send, wait,
cancel), request.py (the SendCommand requests and their size limit), bootstrap.py (the
fixed script that unpacks the agent), agent_store.py (the agent in S3), preflight.py
(every target registered, Online, right platform), wait.py (one paginated walk per poll
for the whole fleet), collect.py (each instance's result and full output), traffic.py
(load balancers and alarms), resume.py (a re-run). boto3 is imported only when a deploy runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssm_action.deploy.model import DeployOutcome, Plan
    from ssm_action.transports.ssm.wait import Pacing


class SsmTransport:
    """SendCommand to the instances; the server paths in the parameters are taken as given."""

    name = "ssm"

    def __init__(self, pacing: Pacing | None = None, retries: dict[str, Any] | None = None):
        self.pacing = pacing  # injectable: tests need no real time
        self.retries = retries

    def adapt(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def run(self, plan: Plan) -> DeployOutcome:
        from ssm_action.transports.ssm import command

        return command.deploy(plan, pacing=self.pacing, retries=self.retries)
