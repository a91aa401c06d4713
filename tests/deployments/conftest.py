"""Fixtures for the deployment and audit tests: a fake GitHub over HTTP, the action
run in-process with a stand-in transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ssm_action import config, context, deploy, deployments, runner
from ssm_action.results import DeployOutcome
from tests.conftest import RunnerFiles
from tests.deployments.fake_github import FakeGitHub
from tests.deployments.stand_ins import BASE_INPUTS, outcome


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
    monkeypatch.setattr(deployments, "BACKOFF", 0.01)
    monkeypatch.setattr(deployments, "START_SECONDS", 0.5)
    monkeypatch.setattr(deployments, "FINAL_SECONDS", 0.5)


def ok_transport(*_: object) -> DeployOutcome:
    return outcome("ok", "ok", "ok")


@pytest.fixture
def action(runner_files: RunnerFiles, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch,
           fast: None) -> Callable[..., bool]:
    """Run deploy.run() in this process as the CLI does, with ``transport`` standing in for SSM.

    Inputs are keyword arguments (underscores for hyphens); the result is the deploy's."""
    for key, value in {**runner_files.env, "GITHUB_API_URL": github.url}.items():
        monkeypatch.setenv(key, value)

    def run(transport: Callable[..., DeployOutcome] = ok_transport, gates_ok: bool = True, **inputs: str) -> bool:
        runner.reset()
        raw = config.raw_inputs({}, {**BASE_INPUTS, **{k.replace("_", "-"): v for k, v in inputs.items()}})
        runner.mask(raw["github-token"])
        cfg, errors = config.parse(raw)
        assert cfg is not None, errors
        monkeypatch.setattr(deploy, "_run_transport", transport)
        try:
            return deploy.run(cfg, context.from_env(cfg.working_directory), gates_ok=gates_ok)
        finally:
            runner.flush()

    return run
