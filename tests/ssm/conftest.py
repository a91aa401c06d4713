"""Fixtures for the SSM transport tests: moto extended with the SSM actions it lacks, the real
agent's output, typed configs, and a clock that never sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ssm_action import runner
from ssm_action.config import DeployConfig
from ssm_action.context import RunContext
from ssm_action.transports.ssm.wait import Pacing
from tests import factories
from tests.ssm import fake_elb, fake_ssm
from tests.ssm.agent_runs import BootstrapRun, real_runs

SHA = "0123456789abcdef0123456789abcdef01234567"
CTX = RunContext(actor="octocat", repository="octo-org/octo-app", sha=SHA, branch="main", event="push",
                 run_id="4242", run_attempt="1", server_url="https://github.com", api_url="https://api.github.com")
BASE_INPUTS = {"mode": "deploy", "transport": "ssm", "app_directory": "C:\\apps\\octo", "aws_region": "us-east-1",
               "create_deployment": "false"}


@pytest.fixture(scope="session", autouse=True)
def _moto_ssm_extended() -> None:
    fake_ssm.install()


@pytest.fixture
def fake(aws: dict[str, str]) -> Iterator[fake_ssm.FakeSSM]:
    """A clean moto (via ``aws``) and a clean fake; runner state reset around the test."""
    runner.reset()
    yield fake_ssm.reset()
    runner.reset()


@pytest.fixture(scope="session")
def agent_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BootstrapRun]:
    return real_runs(tmp_path_factory.mktemp("agent-runs"))


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DeployConfig]:
    """The deploy section from action inputs (underscores for hyphens), validated as the action does."""
    def make(**inputs: str) -> DeployConfig:
        return factories.deploy_config(tmp_path, **{**BASE_INPUTS, **inputs})
    return make


class FakeClock:
    """Pacing whose sleep advances a clock instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def pacing(self) -> Pacing:
        return Pacing(clock=lambda: self.now, sleep=self.sleep)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session", autouse=True)
def _moto_elb_extended() -> None:
    fake_elb.install()


@pytest.fixture
def elb(fake: fake_ssm.FakeSSM, clock: FakeClock) -> fake_elb.FakeELB:
    """The ALB timing stand-in, clean; the SSM fake's event log on the test's clock."""
    fake.now = lambda: clock.now
    return fake_elb.reset()
