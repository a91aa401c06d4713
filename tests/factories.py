"""The one way tests build a configuration: from action inputs, read and validated as the action does.

Inputs are keyword arguments with underscores for hyphens (``app_directory="C:\\\\apps\\\\web"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ssm_action import config
from ssm_action.deploy import plan
from ssm_action.config import Config, ConfigError, DeployConfig, GatesConfig


def inputs(**given: str) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in given.items()}


def input_env(**given: str) -> dict[str, str]:
    """The INPUT_* variables the runner would set for these inputs."""
    return {f"INPUT_{name.upper()}": value for name, value in inputs(**given).items()}


def parse(workspace: Path | None = None, env: Mapping[str, str] | None = None,
          **given: str) -> tuple[Config | None, list[ConfigError]]:
    """The config (or every error) for these inputs, over ``env`` (INPUT_* and GITHUB_* variables)."""
    environ = dict(env or {})
    if workspace is not None:
        environ["GITHUB_WORKSPACE"] = str(workspace)
    return config.parse(config.raw_inputs(environ, inputs(**given)), environ, agent_check=plan.input_errors)


def make(workspace: Path | None = None, env: Mapping[str, str] | None = None, **given: str) -> Config:
    """A valid config; the test fails with the errors otherwise."""
    cfg, errors = parse(workspace, env, **given)
    assert cfg is not None, errors
    return cfg


def deploy_config(workspace: Path | None = None, env: Mapping[str, str] | None = None, **given: str) -> DeployConfig:
    return make(workspace, env, **{"mode": "deploy", **given}).deploy


def gates_config(project: Path, **given: str) -> GatesConfig:
    """The gates' section for ``project``, its cache inside it."""
    defaults = {"mode": "gates", "working_directory": str(project),
                "cache_directory": str(project / ".ssm-action-cache")}
    return make(None, {}, **{**defaults, **given}).gates
