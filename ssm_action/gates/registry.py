"""The ten gates: which check runs each, and whether it needs the project's environment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ssm_action.gates import lint, project, pytest_gate, vulnerabilities
from ssm_action.gates.base import GateContext
from ssm_action.gates.model import Outcome


@dataclass(frozen=True)
class Gate:
    check: Callable[[GateContext], Outcome]
    needs_env: bool
    cost: int = 0  # rough relative run time: the costliest start first, so the run ends sooner


GATES: dict[str, Gate] = {
    "tests": Gate(pytest_gate.tests, needs_env=True, cost=3),
    "pip-audit": Gate(vulnerabilities.pip_audit, needs_env=True, cost=2),
    "safety": Gate(vulnerabilities.safety, needs_env=False),
    "bandit": Gate(lint.bandit, needs_env=False, cost=1),
    "flake8": Gate(lint.flake8, needs_env=False, cost=1),
    "ruff": Gate(lint.ruff, needs_env=False),
    "pylint": Gate(lint.pylint, needs_env=True, cost=4),  # resolves the project's imports
    "smoke": Gate(project.smoke, needs_env=True),
    "env": Gate(project.required_env, needs_env=False),
    "deps": Gate(project.deps, needs_env=True, cost=1),
}
