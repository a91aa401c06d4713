"""The local transport runs the real agent zipapp and returns a correct InstanceResult."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from ssm_action.transports import local
from tests.agent.agent_fixtures import Server, serving


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
