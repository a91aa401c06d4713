"""Fixtures shared by every test module: a simulated runner, moto over real HTTP,
and the action's container image."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests import containers
from tests.runner_files import read_file_commands

ROOT = Path(__file__).resolve().parent.parent
# The suite runs as root on our machines, where the gates would run the project's code as
# another user, who cannot reach pytest's private temporary folders or a Python under /root.
# The sandbox has tests of its own (tests/gates/test_sandbox.py, the container tests).
os.environ.setdefault("SSM_ACTION_RUN_AS", "self")

# Markers (registered in setup.cfg), applied here by what a test uses, so that
# `scripts/test.sh --fast` (-m "not slow and not container") is the edit-run loop.
SLOW_PATHS = ("tests/agent/", "tests/gates/", "tests/test_local_transport.py", "tests/deployments/test_end_to_end.py",
              "tests/ssm/test_bootstrap.py", "tests/ssm/test_ssm_entrypoint.py", "tests/test_lint.py",
              "tests/test_docs.py", "tests/test_cli.py", "tests/test_workflows.py", "tests/artifact/",
              "tests/windows/", "tests/test_sample_app_deploy.py", "tests/ssm/test_ssm_artifact.py",
              "tests/ssm/test_fleet_modes.py", "tests/deployments/test_fleet_modes.py")  # real agents, venvs,
# linters, the entrypoint as a process, Wine
SLOW_FIXTURES = frozenset({"agent_runs", "server"})  # a real agent deploy behind them


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).relative_to(ROOT).as_posix()
        fixtures = set(getattr(item, "fixturenames", ()))
        if "action_image" in fixtures:
            item.add_marker(pytest.mark.container)
        elif path.startswith(SLOW_PATHS) or fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)


@dataclass
class RunnerFiles:
    """A simulated runner step: its environment and its file-command files."""

    env: dict[str, str]
    output: Path
    summary: Path
    state: Path

    def outputs(self) -> dict[str, str]:
        return read_file_commands(self.output)

    def states(self) -> dict[str, str]:
        return read_file_commands(self.state)

    def run(self, inputs: dict[str, str] | None = None, *args: str, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
        """The entrypoint as a subprocess, with inputs named as the runner names them."""
        env = dict(self.env)
        env.update({f"INPUT_{k.upper()}": v for k, v in (inputs or {}).items()})
        return subprocess.run([sys.executable, str(ROOT / "entrypoint.py"), *args], env=env,
                              cwd=cwd or ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def runner_files(tmp_path: Path) -> RunnerFiles:
    files = tmp_path / "file_commands"
    files.mkdir()
    paths = {name: files / name for name in ("output", "summary", "state", "env")}
    for path in paths.values():
        path.touch()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_", "AWS_"))}
    env.update({
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(paths["output"]),
        "GITHUB_STEP_SUMMARY": str(paths["summary"]),
        "GITHUB_STATE": str(paths["state"]),
        "GITHUB_ENV": str(paths["env"]),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_REPOSITORY": "octo-org/octo-app",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_REF_NAME": "main",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
    })
    return RunnerFiles(env, paths["output"], paths["summary"], paths["state"])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server per test process, over real HTTP."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean moto state and the AWS variables that point boto3 (and the action) at it."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def action_image() -> str:
    """The action's image, built from the Dockerfile with podman (once per content)."""
    if not containers.podman_available():
        if os.environ.get("SSM_ACTION_REQUIRE_CONTAINER") == "1":
            pytest.fail("podman/mmdebstrap are missing but SSM_ACTION_REQUIRE_CONTAINER=1 (.ci/run installs them)")
        pytest.skip("CONTAINER TESTS SKIPPED: podman and mmdebstrap are not installed "
                    "(.ci/run installs them; see scripts/build-image.sh)")
    return containers.build_image()
