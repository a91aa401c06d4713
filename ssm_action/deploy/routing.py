"""Which environment a deploy goes to: the input, else the branch (or the tag) through environment-map.

Branch entries match branches only: a tag named like a branch (refs/tags/main) is not that
branch, and tags bypass branch protection. A tag goes only where a tag: entry sends it
(tag:v*=production, a glob), or where the environment input says.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from ssm_action.config.sections import DeployConfig
from ssm_action.context import RunContext
from ssm_action.errors import ActionError

TAG = "tag:"


def environment_for(cfg: DeployConfig, ctx: RunContext) -> str:
    if cfg.environment:
        return cfg.environment
    known = ", ".join(f"{b} -> {e}" for b, e in cfg.environment_map) or "none"
    if ctx.tag:
        for key, environment in cfg.environment_map:
            if key.startswith(TAG) and fnmatchcase(ctx.tag, key[len(TAG):]):
                return environment
        raise ActionError(
            "No environment for this tag",
            f"Tag {ctx.tag!r} matches no tag: entry in environment-map ({known}); a tag is never routed as a "
            "branch of the same name. Add one, e.g. environment-map: 'tag:v*=production', or set environment: "
            "explicitly. Nothing was deployed.",
            anchor="routing-and-the-commit",
        )
    routes = {key: environment for key, environment in cfg.environment_map if not key.startswith(TAG)}
    if ctx.branch in routes:
        return routes[ctx.branch]
    raise ActionError(
        "No environment for this branch",
        f"Branch {ctx.branch or '(unknown)'!r} has no environment in environment-map ({known}). "
        "Add it, e.g. environment-map: 'release=staging', or set environment: explicitly. "
        "Nothing was deployed.",
        anchor="routing-and-the-commit",
    )
