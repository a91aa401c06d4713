"""A stand-in for an ALB's timing: moto's ELBv2 extended in-process with draining and health checks.

moto 5.2 deregisters a target at once (``unused``) and reports every registered
target ``healthy`` at once. Here, per target group, a deregistered target is
``draining`` for ``drain_polls`` DescribeTargetHealth answers about it, and a
registered one ``initial`` for ``initial_polls`` answers, then ``healthy`` (or
``unhealthy`` when its instance is in ``sick``, as a failing health check makes
it). Everything else (target groups, attributes, registration, errors for
unknown names) is moto's own, over HTTP. With real servers (``drain_seconds``
set) the timing is real instead: draining lasts that long, and a registered
target is ``initial`` until a real health check (``check``) passes, then stays
``healthy``, as an ALB whose health checks are too slow to see a restart.

Each DeregisterTargets and RegisterTargets goes into the SSM fake's event log
(with SendCommand and each invocation's end), and the number of the fleet's
servers out of service (not ``healthy`` in some target group) is tracked with its
peak: what the users of the service would feel.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup
from moto.elbv2.responses import ELBV2Response

from tests.ssm import fake_ssm


@dataclass
class FakeELB:
    drain_polls: int = 2
    initial_polls: int = 1
    sick: set[str] = field(default_factory=set)  # instances whose health check fails
    fleet: set[str] = field(default_factory=set)  # whose service is tracked
    phases: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # (group, id) -> [state, left, since]
    peak_out: int = 0
    out_log: list[int] = field(default_factory=list)  # servers out of service after each ELB call
    answered_healthy: set[str] = field(default_factory=set)  # instances DescribeTargetHealth said healthy
    calls: Counter[str] = field(default_factory=Counter)  # ELBv2 action -> calls
    # In real time instead (with real servers): draining lasts drain_seconds, and a registered target is
    # initial until check(instance) passes once (a real HTTP health check), then healthy.
    drain_seconds: float | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)  # action -> error codes to answer first
    check: Callable[[str], bool] | None = None

    def state(self, group: str, iid: str, tick: bool = False) -> str:
        phase = self.phases.get((group, iid))
        if phase is None:
            return "healthy"
        if self.drain_seconds is not None:
            return self.timed_state(phase, iid)
        name, left = phase[0], phase[1]
        if name in ("draining", "initial") and left > 0:
            if tick:
                phase[1] -= 1
            return str(name)
        if name == "draining":
            return "unused"
        return "unhealthy" if iid in self.sick else "healthy"

    def timed_state(self, phase: list[Any], iid: str) -> str:
        name, since = phase[0], phase[2]
        if name == "draining":
            return "draining" if time.monotonic() - since < (self.drain_seconds or 0) else "unused"
        if name == "initial" and self.check and self.check(iid):
            phase[0] = "healthy"
        return "initial" if phase[0] == "initial" else "healthy"

    def out_of_service(self) -> int:
        groups = {group for group, _ in self.phases}
        return sum(any(self.state(g, iid) != "healthy" for g in groups) for iid in self.fleet)

    def note(self) -> None:
        out = self.out_of_service()
        self.out_log.append(out)
        self.peak_out = max(self.peak_out, out)


FAKE = FakeELB()
_register, _deregister, _health_for = FakeTargetGroup.register, FakeTargetGroup.deregister, FakeTargetGroup.health_for
_call_action = ELBV2Response.call_action


def register(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    _register(self, targets)
    for target in targets:
        FAKE.phases[(self.name, target["Id"])] = ["initial", FAKE.initial_polls, time.monotonic()]
        fake_ssm.FAKE.event("RegisterTargets", target["Id"], self.name)


def deregister(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    _deregister(self, targets)
    for target in targets:
        FAKE.phases[(self.name, target["Id"])] = ["draining", FAKE.drain_polls, time.monotonic()]
        fake_ssm.FAKE.event("DeregisterTargets", target["Id"], self.name)


def health_for(self: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> FakeHealthStatus:
    moto_says = _health_for(self, target, ec2_backend)
    if (self.name, target["Id"]) not in FAKE.phases:
        return moto_says
    state = FAKE.state(self.name, target["Id"], tick=True)
    if state == "healthy":
        FAKE.answered_healthy.add(target["Id"])
    reasons = {"draining": "Target.DeregistrationInProgress", "initial": "Elb.RegistrationInProgress",
               "unhealthy": "Target.ResponseCodeMismatch", "unused": "Target.NotRegistered"}
    return FakeHealthStatus(target["Id"], moto_says.port, self.health_check_port, state, reasons.get(state),
                            f"{state} (the stand-in's timing)" if state != "healthy" else None)


class FakeError(ServiceException):
    """Defined outside moto's packages, so moto serializes it with ELBv2's own model (HTTP 400)."""


def call_action(self: ELBV2Response) -> Any:
    action = self._get_action()
    FAKE.calls[action] += 1
    queue = FAKE.errors.get(action)
    if queue:
        code = queue.pop(0)
        return self.serialized(ActionResult(FakeError(code, f"{code} (injected by the test)")))
    answer = _call_action(self)
    FAKE.note()
    return answer


def install() -> None:
    FakeTargetGroup.register = register
    FakeTargetGroup.deregister = deregister
    FakeTargetGroup.health_for = health_for
    ELBV2Response.call_action = call_action


def reset_timing() -> None:
    """Forget what was registered so far (the fleet in service before the run) and the events it made."""
    FAKE.phases.clear()
    FAKE.calls.clear()
    FAKE.out_log.clear()
    FAKE.peak_out = 0
    fake_ssm.FAKE.events.clear()


def reset() -> FakeELB:
    FAKE.__init__()  # type: ignore[misc]
    return FAKE
