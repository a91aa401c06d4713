"""The local transport runs the real agent zipapp and returns a correct InstanceResult."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from ssm_action import payload, runner
from ssm_action.deploy import run as deploy_run
from ssm_action.transports import local
from tests import factories
from tests.agent.agent_fixtures import Server, serving
from tests.ssm.conftest import CTX


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    with serving(tmp_path) as srv:
        for name in ("PATH", "PIP_NO_INDEX", "UV_OFFLINE"):  # the agent inherits our environment
            monkeypatch.setenv(name, srv.env[name])
        yield srv


def test_a_deploy_and_a_rollback(server: Server, capsys: pytest.CaptureFixture):
    v1 = server.commit("v1")
    result = local.run_agent(server.params(v1))
    assert (result.instance_id, result.status, result.ok, result.rolled_back) == (
        "local", "Success", True, False)
    assert result.agent.running_sha == v1 and result.error == ""
    assert result.duration > 0 and Path(result.log_url).is_file()
    assert result.log_url == result.agent.log_file
    assert "  verify " in capsys.readouterr().out  # streamed, indented
    assert server.get() == (200, "v1 tinydep-1.0")

    result = local.run_agent(server.params(server.commit("v2", crash=True)))
    assert (result.status, result.ok, result.rolled_back) == ("Failed", False, True)
    assert result.agent.status == "rolled_back" and "verify " in result.output
    assert server.get() == (200, "v1 tinydep-1.0")


def test_bad_parameters_and_a_missing_interpreter(server: Server):
    result = local.run_agent({"deploy_id": "1-1"})
    assert (result.status, result.agent.status) == ("Failed", "invalid")
    assert "sha is required" in result.agent.error and result.log_url == ""
    result = local.run_agent({}, python=str(server.root / "no-python"))
    assert result.status == "Failed" and result.agent is None
    assert "cannot run" in result.error


def test_timeout(server: Server):
    hook = "import time\ntime.sleep(60)\n"
    sha = server.commit("v1", files={"deploy/hooks/pre-stop.py": hook})
    result = local.run_agent(server.params(sha), timeout=3)
    assert result.status == "TimedOut" and result.agent is None
    assert "did not finish within 3s" in result.error


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file and folder below ``folder``: mode, modification time and content."""
    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        found[str(path.relative_to(folder))] = (info.st_mode, info.st_mtime_ns, content)
    return found


def test_a_dry_run_changes_nothing_on_disk_and_starts_nothing(server: Server, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture):
    for version in ("v1", "v2"):  # a deployed app: its clone, venv, state folder and a backup of v1
        assert local.run_agent(server.params(server.commit(version))).ok
    v2, v3 = server.head(), server.commit("v3")
    cfg = factories.deploy_config(server.root, transport="local", dry_run="true", app_directory=str(server.app_dir),
                                  git_remote=str(server.origin), health_check_url=server.url,
                                  server_installer="uv", create_deployment="false", environment="production")
    ctx = dataclasses.replace(CTX, sha=v3)
    before = snapshot(server.root / "srv")
    assert {"app", "app.deploy", "app-backups"} <= {name.split("/")[0] for name in before}
    started: list[object] = []
    real_popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a) or real_popen(*a, **k))
    runner.reset()

    assert deploy_run.run(cfg, ctx) is True
    assert started == []  # no agent, no git, no hook, no app
    assert snapshot(server.root / "srv") == before
    assert (server.head(), server.get()) == (v2, (200, "v2 tinydep-1.0"))
    log = capsys.readouterr().out
    assert "Dry run: the local agent run" in log and f'"sha": "{v3}"' in log
    agent = payload.build(frozenset({"linux"}))  # the agent this machine's deploy carries
    assert f"sha256 {agent.sha256}" in log and "Local dry run" in log
    assert runner.outputs()["deployed-sha"] == ""
    runner.reset()
