"""Shared, expensive things for the gates' tests: the gate tools' environment, a local
OSV service for pip-audit, and one full gates run on the sample app and on the
fixture with planted problems (every gate's test reads those runs)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from ssm_action.gates import schedule, tools
from ssm_action.gates.model import GateResult
from tests.factories import gates_config
from tests.gates import osv_server

collect_ignore_glob = ["fixtures/*", "shapes/*"]  # projects under test, with their own (failing) tests

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHAPES = Path(__file__).resolve().parent / "shapes"  # one small project per shape of declaring itself
SAMPLE_APP = ROOT / "examples" / "sample-app"
CACHE = ROOT / ".cache"
PROJECT_LITTER = shutil.ignore_patterns(".ssm-action-cache", ".ssm-action-sarif", "__pycache__", ".pytest_cache",
                                        ".coverage")


@pytest.fixture(scope="session", autouse=True)
def gate_tools() -> Path:
    """The tools' bin folder: SSM_ACTION_TOOLS if set, else a venv made once from
    requirements-tools.txt (shared by xdist workers and later runs)."""
    os.environ.setdefault("UV_CACHE_DIR", str(CACHE / "uv"))  # wheels shared by every test's environments
    if os.environ.get(tools.TOOLS_VARIABLE):
        return Path(os.environ[tools.TOOLS_VARIABLE])
    # Bytecode compiled at install, as pip does in the image: tools start much faster.
    venv = tool_venv(ROOT / "requirements-tools.txt", "gate-tools")
    os.environ[tools.TOOLS_VARIABLE] = str(venv / "bin")
    return venv / "bin"


def tool_venv(requirements: Path, name: str) -> Path:
    """A venv made once from a requirements file (shared by xdist workers and later runs)."""
    install = ["pip", "install", "-q", "--compile-bytecode", "-r", str(requirements)]
    digest = hashlib.sha256(requirements.read_bytes() + " ".join(install).encode()).hexdigest()[:12]
    venv = CACHE / f"{name}-{digest}"
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / "ready").exists():
            uv = tools.uv() or "uv"
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
            subprocess.run([uv, *install, "--python", str(venv / "bin" / "python")], check=True)
            (venv / "ready").touch()
    return venv


@pytest.fixture(scope="session")
def direct_tools() -> Path:
    """poetry and tox, to run the fixture projects as their own CI would."""
    return tool_venv(Path(__file__).resolve().parent / "direct-tools.txt", "direct-tools") / "bin"


@pytest.fixture(scope="session")
def osv_url() -> Iterator[str]:
    server, url = osv_server.start()
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def copy_project(tmp_path_factory: pytest.TempPathFactory):
    """copy_project(source, name): a private copy of a project (fixtures must stay clean)."""
    def copy(source: Path, name: str | None = None) -> Path:
        target = tmp_path_factory.mktemp("projects") / (name or source.name)
        shutil.copytree(source, target, ignore=PROJECT_LITTER)
        return target
    return copy


def run_gates(project: Path, installer: str | None = None, **inputs: str) -> schedule.GatesRun:
    return schedule.run_gates(gates_config(project, **inputs), installer=installer)


def by_name(run: schedule.GatesRun) -> dict[str, GateResult]:
    return {result.name: result for result in run.results}


@pytest.fixture(scope="session")
def sample_project(copy_project) -> Path:
    """A copy of the sample app; its cached environment is shared by the tests that use it."""
    return copy_project(SAMPLE_APP)


@pytest.fixture(scope="session")
def sample_run(sample_project: Path, osv_url: str) -> schedule.GatesRun:
    """Every gate on the sample app (pip-audit against the local OSV service)."""
    project = sample_project
    with mock.patch.dict(os.environ, {"SAMPLE_APP_SETTING": "configured"}):
        return run_gates(project, pip_audit_args=f"-s osv --osv-url {osv_url}", smoke_imports="app, store",
                         required_env="SAMPLE_APP_SETTING", coverage_threshold="90")


@pytest.fixture(scope="session")
def bad_run(copy_project, osv_url: str) -> schedule.GatesRun:
    """Every gate on the fixture with a problem planted for each."""
    project = copy_project(FIXTURES / "bad-app")
    return run_gates(project, pip_audit_args=f"-s osv --osv-url {osv_url}", smoke_imports="app, broken",
                     required_env="BAD_APP_UNSET_VARIABLE")


def closed_port_url() -> str:
    """A local URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/query"
