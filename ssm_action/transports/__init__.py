"""How a deploy reaches its targets: one small interface, transports looked up by name.

A transport owns its rules: ``adapt`` turns the agent's parameters into what its
targets need (the local one resolves paths on this machine), and ``run`` carries
out a plan, honouring ``plan.dry_run`` (nothing sent, nothing changed, nothing started).
Modules are imported only when a transport is looked up: the SSM one needs boto3.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ssm_action.deploy.model import DeployOutcome, Plan


class Transport(Protocol):
    name: str

    def adapt(self, params: dict[str, Any]) -> dict[str, Any]:
        """The agent's parameters as this transport's targets take them."""

    def run(self, plan: Plan) -> DeployOutcome:
        """Deploy the plan to every target (or, in a dry run, show what would be done)."""


BUILT_IN = {"ssm": "ssm_action.transports.ssm:SsmTransport", "local": "ssm_action.transports.local:LocalTransport"}
_registry: dict[str, Callable[[], Transport]] = {}


def register(name: str, factory: Callable[[], Transport]) -> Callable[[], Transport] | None:
    """Make ``name`` give ``factory()`` (tests register stand-ins); returns what it replaced."""
    previous = _registry.get(name)
    _registry[name] = factory
    return previous


def unregister(name: str) -> None:
    _registry.pop(name, None)


def get(name: str) -> Transport:
    if name in _registry:
        return _registry[name]()
    module, _, attr = BUILT_IN[name].partition(":")
    factory: Callable[[], Transport] = getattr(importlib.import_module(module), attr)
    return factory()
