"""The deploy model's pure parts: a target's result read from the typed agent result, and the one verdict."""

from __future__ import annotations

from ssm_action.contract import AgentResult
from ssm_action.deploy.model import DeployOutcome, InstanceResult, Verdict, verdict, worst_health

SHA = "0123456789abcdef0123456789abcdef01234567"


def target(iid: str, status: str = "success", rolled_back: bool = False, health: str = "healthy",
           ssm: str = "Success") -> InstanceResult:
    return InstanceResult(iid, ssm, 1.0, AgentResult(status=status, rolled_back=rolled_back, health=health,
                                                     error=None if status == "success" else "boom"))


def test_a_target_is_ok_only_when_ssm_and_the_agent_say_so():
    assert target("i-1").ok
    assert not target("i-1", ssm="Failed").ok
    assert not target("i-1", status="failed").ok
    assert not InstanceResult("i-1", "Success").ok  # no result line


def test_the_reason_is_the_agents_error_else_the_transports():
    assert target("i-1", status="failed").reason == "boom"
    assert InstanceResult("i-1", "Failed", error="no result").reason == "no result"
    assert InstanceResult("i-1", "Failed").health == "unknown"


def test_the_verdict_in_each_case():
    ok = DeployOutcome("ssm", [target("i-1"), target("i-2")])
    assert verdict(ok, SHA) == Verdict("success", "Deployed 0123456789ab to 2/2 target(s)")
    assert verdict(DeployOutcome("ssm", dry_run=True), SHA).result == "dry_run"
    assert verdict(DeployOutcome("ssm"), SHA) == Verdict("failure", "no target ran the deploy")
    some = DeployOutcome("ssm", [target("i-1"), target("i-2", "rolled_back", True), target("i-3", "failed")])
    assert verdict(some, SHA) == Verdict("failure", "2/3 target(s) failed; 1 rolled back")
    every = DeployOutcome("ssm", [target("i-2", "rolled_back", True)])
    assert verdict(every, SHA).line == "1/1 target(s) failed; rolled back"
    none = DeployOutcome("ssm", [target("i-3", "failed")])
    assert verdict(none, SHA).line == "1/1 target(s) failed; not rolled back"


def test_the_worst_health_wins():
    assert worst_health([target("i-1"), target("i-2", health="unhealthy")]) == "unhealthy"
    assert worst_health([target("i-1"), InstanceResult("i-2", "Failed")]) == "unknown"
    assert worst_health([]) == "unknown"
