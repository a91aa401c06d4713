"""What a transport takes (the plan) and reports (per target and for the whole deploy), and the one
verdict on it.

The agent's result line is parsed once, by ``contract.AgentResult``; everything
here reads its typed fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ssm_action.config.sections import ServerConfig, TargetsConfig
from ssm_action.context import RunContext
from ssm_action.contract import BY_NAME, Action, AgentParams, AgentResult
from ssm_action.payload import Payload

HEALTH_ORDER = ("unknown", "unhealthy", "not_checked", "healthy")  # worst first
NOT_STARTED = "NotStarted"  # no wave reached it: the error budget was exceeded first


@dataclass(frozen=True)
class Plan:
    """Everything a transport needs to deploy one commit to one environment."""

    environment: str
    ctx: RunContext
    transport: str
    dry_run: bool
    params: AgentParams  # valid by the contract; the agent gets params.to_json()
    payload: Payload  # the agent's zipapp
    targets: TargetsConfig
    server: ServerConfig
    python_on_server: str  # the interpreter the bootstrap runs the agent with

    def shown_params(self) -> dict[str, Any]:
        """The parameters as they may be shown: a secret parameter's values hidden."""
        return {name: ({key: "(hidden)" for key in value} if isinstance(value, dict) else "(hidden)")
                if BY_NAME[name].secret and value else value for name, value in self.params.to_json().items()}

    def __repr__(self) -> str:  # the parameters may carry secrets
        return f"Plan(environment={self.environment!r}, transport={self.transport!r}, dry_run={self.dry_run!r})"


@dataclass
class InstanceResult:
    """The outcome on one target (an EC2 instance, or ``local``)."""

    instance_id: str
    status: str  # SSM invocation status: Success, Failed, TimedOut, Cancelled, ...
    duration: float | None = None  # seconds
    agent: AgentResult | None = None  # the parsed result line; None if none came
    output: str = ""  # the agent's stdout (may be cut by SSM)
    error: str = ""  # stderr, or why there is no result
    log_url: str = ""  # where the full output lives (S3 console URL, file path)
    timeline: list[tuple[str, str]] = field(default_factory=list)  # (UTC time, status)

    @property
    def ok(self) -> bool:
        return self.status == "Success" and self.agent is not None and self.agent.ok

    @property
    def health(self) -> str:
        return (self.agent.health if self.agent else "") or "unknown"

    @property
    def reason(self) -> str:
        """Why it failed: the agent's error, else the transport's."""
        return (self.agent.error if self.agent else "") or self.error

    @property
    def rolled_back(self) -> bool:
        return bool(self.agent and self.agent.rolled_back)

    @property
    def started(self) -> bool:
        return self.status != NOT_STARTED


@dataclass
class Wave:
    """One wave of a rollout: its targets, when it ran, how it ended."""

    number: int
    instance_ids: list[str]
    started: str = ""  # ISO UTC
    ended: str = ""
    seconds: float = 0.0  # as the action measured it (monotonic)
    offset: float = 0.0  # seconds from the rollout's start
    succeeded: int = 0
    failed: int = 0
    kind: str = "deploy"  # deploy, or fleet-rollback
    # behind a load balancer: seconds draining before the send, waiting for healthy after, baking after
    drain: float = 0.0
    settle: float = 0.0
    bake: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class DeployOutcome:
    """What a transport reports for the whole deploy."""

    transport: str  # "ssm" or "local"
    results: list[InstanceResult] = field(default_factory=list)
    command_id: str = ""
    log_url: str = ""  # where the full output is (S3 prefix console URL, or a file)
    dry_run: bool = False
    action: str = "deploy"  # deploy, status or rollback: what the agent did
    waves: list[Wave] = field(default_factory=list)
    fleet_rollback: list[InstanceResult] = field(default_factory=list)  # rollback-fleet-on-failure's runs
    stopped_by: str = ""  # the alarm that stopped the rollout, e.g. "alarm web-5xx in ALARM after wave 2"
    skipped: dict[str, str] = field(default_factory=dict)  # a re-run: servers already running the commit -> why
    status_before: list[InstanceResult] = field(default_factory=list)  # a re-run: each target's status first

    @property
    def ok(self) -> bool:
        if self.dry_run:
            return True
        return bool(self.results) and all(r.ok for r in self.results) and not self.stopped_by

    @property
    def failed(self) -> list[InstanceResult]:
        """The targets that ran and failed (not those no wave reached)."""
        return [r for r in self.results if not r.ok and r.started]

    @property
    def not_started(self) -> list[InstanceResult]:
        return [r for r in self.results if not r.started]

    @property
    def fleet_rolled_back(self) -> list[str]:
        """The targets this run updated and then put back (rollback-fleet-on-failure)."""
        return [r.instance_id for r in self.fleet_rollback if r.ok]


@dataclass(frozen=True)
class Verdict:
    """The deploy's result in one word and one line: for the audit record, GitHub and the summary."""

    result: str  # success, failure, error, cancelled, skipped or dry_run
    line: str


def verdict(outcome: DeployOutcome, sha: str) -> Verdict:
    """e.g. Verdict("failure", "2/3 target(s) failed; rolled back")."""
    if outcome.dry_run:
        return Verdict("dry_run", "dry run: nothing was sent to the servers")
    total = len(outcome.results)
    done = Action(outcome.action).done.replace("%s", sha[:12])
    if outcome.ok:
        return Verdict("success", f"{done} {total}/{total} target(s)")
    if not total:
        return Verdict("failure", "no target ran the deploy")
    if outcome.stopped_by and not outcome.failed:
        line = f"rollout stopped: {outcome.stopped_by}; {len(outcome.not_started)} not started"
        if outcome.fleet_rollback:
            line += f"; {len(outcome.fleet_rolled_back)}/{len(outcome.fleet_rollback)} updated target(s) put back"
        return Verdict("failure", line)
    failed = len(outcome.failed)
    rolled = sum(r.rolled_back for r in outcome.failed)
    back = "rolled back" if rolled == failed else f"{rolled} rolled back" if rolled else "not rolled back"
    line = f"{failed}/{total} target(s) failed; {back}"
    if outcome.not_started:
        line += f"; {len(outcome.not_started)} not started ({outcome.stopped_by or 'error budget exceeded'})"
    if outcome.fleet_rollback:
        line += f"; {len(outcome.fleet_rolled_back)}/{len(outcome.fleet_rollback)} updated target(s) put back"
    return Verdict("failure", line)


def worst_health(results: list[InstanceResult]) -> str:
    states = [r.health for r in results]
    return min(states, key=lambda s: HEALTH_ORDER.index(s) if s in HEALTH_ORDER else 0, default="unknown")
