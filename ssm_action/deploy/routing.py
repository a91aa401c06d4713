"""Which environment a deploy goes to: the input, else the branch through environment-map."""

from __future__ import annotations

from ssm_action.config.sections import DeployConfig
from ssm_action.context import RunContext
from ssm_action.errors import ActionError


def environment_for(cfg: DeployConfig, ctx: RunContext) -> str:
    if cfg.environment:
        return cfg.environment
    routes = dict(cfg.environment_map)
    if ctx.branch in routes:
        return routes[ctx.branch]
    known = ", ".join(f"{b} -> {e}" for b, e in cfg.environment_map) or "none"
    raise ActionError(
        "No environment for this branch",
        f"Branch {ctx.branch or '(unknown)'!r} has no environment in environment-map ({known}). "
        "Add it, e.g. environment-map: 'release=staging', or set environment: explicitly. "
        "Nothing was deployed.",
        anchor="routing-and-the-commit",
    )
