"""Fixtures for the deployment and audit tests: a fake GitHub over HTTP, the action
run in-process with a stand-in transport."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from ssm_action import context, runner, transports
from ssm_action.deploy import run as deploy_run
from ssm_action.deploy.model import DeployOutcome
from ssm_action.github import client, deployment
from tests import factories
from tests.conftest import RunnerFiles
from tests.deployments.fake_github import FakeGitHub
from tests.deployments.stand_ins import BASE_INPUTS, StandInTransport, outcome


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """A fake GitHub; every request body the action sent must match GitHub's OpenAPI description."""
    fake = FakeGitHub().start()
    yield fake
    fake.stop()
    assert not fake.problems, fake.problems


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without the real waits, and small time budgets."""
    monkeypatch.setattr(client, "BACKOFF", 0.01)
    monkeypatch.setattr(deployment, "START_SECONDS", 0.5)
    monkeypatch.setattr(deployment, "FINAL_SECONDS", 0.5)


def ok_transport(*_: object) -> DeployOutcome:
    return outcome("ok", "ok", "ok")


@pytest.fixture
def action(runner_files: RunnerFiles, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
           fast: None) -> Callable[..., bool]:
    """Run deploy mode in this process as the CLI does, with ``transport`` registered in place of SSM.

    Inputs are keyword arguments (underscores for hyphens); the result is the deploy's."""
    for key, value in {**runner_files.env, "GITHUB_API_URL": github.url}.items():
        monkeypatch.setenv(key, value)

    def run(transport: Callable[..., DeployOutcome] = ok_transport, gates_ok: bool = True, **inputs: str) -> bool:
        runner.reset()
        cfg = factories.deploy_config(env=os.environ, **{**BASE_INPUTS, **inputs})
        runner.mask(cfg.github.github_token)
        transports.register("ssm", lambda: StandInTransport(transport))
        try:
            return deploy_run.run(cfg, context.from_env(cfg.working_directory), gates_ok=gates_ok)
        finally:
            transports.unregister("ssm")
            runner.flush()

    return run
