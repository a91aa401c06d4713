"""The agent's status and rollback actions end to end: real clones, venvs, app processes and health checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ssm_action.contract import ExitCode
from tests.agent.agent_fixtures import Server
from tests.agent.test_agent_deploy import PY38


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder`` with its mtime and content: what a read-only run must not change."""
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}


def test_status_before_any_deploy_reports_nothing_and_writes_nothing(server: Server):
    run = server.deploy("0" * 40, action="status")
    assert run.code == ExitCode.OK, run.out + run.err
    result = run.result
    assert (result["status"], result["action"]) == ("success", "status")
    assert result["running_sha"] is None and result["last_deploy"] is None and result["lock"] is None
    assert result["health"] == "unhealthy"  # nothing answers the health URL
    assert not Path(f"{server.app_dir}.deploy").exists() and not server.app_dir.exists()


def test_status_after_deploys_says_what_runs_since_when_and_how_the_last_deploy_ended(server: Server):
    server.deploy(server.commit("v1"))
    v2 = server.commit("v2")
    deployed = server.deploy(v2)
    assert deployed.code == ExitCode.OK, deployed.out
    state = Path(f"{server.app_dir}.deploy")
    before = snapshot(state) | snapshot(server.app_dir)

    run = server.deploy(v2, action="status")
    assert run.code == ExitCode.OK, run.out + run.err
    result = run.result
    assert (result["running_sha"], result["target_sha"], result["health"]) == (v2, v2, "healthy")
    assert result["health_code"] == 200 and result["pid"] == deployed.result["pid"]
    assert result["since"] == server.state("app.json")["started"]
    assert result["last_deploy"]["deploy_id"] == deployed.result["deploy_id"]
    assert (result["last_deploy"]["status"], result["last_deploy"]["sha"]) == ("success", v2)
    assert result["lock"] is None and result["steps"] == []
    assert snapshot(state) | snapshot(server.app_dir) == before  # read only
    assert f"status: running {v2[:12]}" in run.out


def test_status_names_the_holder_of_the_deploy_lock(server: Server):
    server.deploy(server.commit("v1"))
    owner = Path(f"{server.app_dir}.deploy") / "lock-owner.json"
    owner.write_text('{"pid": %d, "since": "2026-01-01T12:00:00Z", "deploy_id": "77-1"}' % os.getpid())
    result = server.deploy("0" * 40, action="status").result
    assert result["lock"] == f"deploy 77-1 (pid {os.getpid()}) since 2026-01-01T12:00:00Z"
    owner.write_text('{"pid": 999999999, "deploy_id": "78-1"}')  # its holder is gone: a stale lock, not held
    assert server.deploy("0" * 40, action="status").result["lock"] is None


def test_rollback_puts_the_last_good_version_back_then_refuses_to_go_further(server: Server):
    v1 = server.commit("v1")
    server.deploy(v1)
    v2 = server.commit("v2")
    assert server.deploy(v2).code == ExitCode.OK
    unrelated = "f" * 40  # the workflow's commit: a rollback takes its version from the server's record

    back = server.deploy(unrelated, action="rollback")
    assert back.code == ExitCode.OK, back.out + back.err
    result = back.result
    assert (result["action"], result["status"], result["running_sha"], result["health"]) == (
        "rollback", "success", v1, "healthy")
    assert result["target_sha"] == v1 and result["previous_sha"] == v2
    assert server.head() == v1 and server.get()[1].startswith("v1")
    assert f"rollback: running {v2[:12]}; putting back {v1[:12]}" in back.out
    assert server.state("last-good.json")["sha"] == v1 and server.state("last-good.json")["history"] == []
    assert server.state("last-deploy.json")["action"] == "rollback"

    again = server.deploy(unrelated, action="rollback")
    assert again.code == ExitCode.FAILED
    assert "no earlier good version is recorded on this server" in again.result["error"]
    assert server.head() == v1 and server.get()[1].startswith("v1")  # nothing changed


def test_a_rollback_where_nothing_was_deployed_fails_and_says_why(server: Server):
    run = server.deploy("0" * 40, action="rollback")
    assert run.code == ExitCode.FAILED
    assert (run.result["action"], run.result["status"]) == ("rollback", "failed")
    assert "nothing to roll back to" in run.result["error"]


@pytest.mark.skipif(not PY38, reason="no Python 3.8 on this machine")
def test_status_runs_on_python_3_8(server: Server):
    server.deploy(server.commit("v1"))
    run = server.deploy("0" * 40, python=PY38, action="status")
    assert run.code == ExitCode.OK, run.out + run.err
    assert run.result["python"].startswith("3.8") and run.result["health"] == "healthy"
