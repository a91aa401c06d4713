"""Crash consistency: the agent SIGKILLed during each step; the next deploy must succeed,
the last good version's files must survive in a backup, and it must be deployable again.

The test kills the agent's whole process group (the agent and the git/uv/hook it runs,
as a cancelled SSM command would) as soon as the line of the step BEFORE the target step
appears on stdout, so the kill lands while the target step runs.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from ssm_action.agent.git_source import STEPS
from ssm_action.contract import ExitCode
from tests.agent.agent_fixtures import ROLLBACK_WAIT, Server, backup_manifest, run_agent

HOOKS = {"deploy/hooks/pre-stop.py": "print('pre-stop')\n",
         "deploy/hooks/post-start.sh": "echo post-start\n"}


def backups_of(server: Server, sha: str) -> list[Path]:
    """Backups whose manifest and app.py say they hold version ``sha``."""
    return [path for path in Path(f"{server.app_dir}-backups").glob("*.zip")
            if backup_manifest(path)["head"] == sha]


def assert_recovers(server: Server, good: str, good_version: str, target: str,
                    target_version: str) -> None:
    """The next deploy succeeds, nothing is lost, and the old version can come back."""
    recovery = server.deploy(target)
    assert recovery.code == ExitCode.OK, recovery.out + recovery.err
    assert recovery.result["running_sha"] == target
    # Its backup holds the version it would have rolled back to.
    previous = recovery.result["previous_sha"]
    assert Path(recovery.result["backup_path"]) in backups_of(server, previous)
    assert server.get() == (200, f"{target_version} tinydep-1.0")
    assert backups_of(server, good), "no backup holds the last good version"
    back = server.deploy(good)
    assert back.code == ExitCode.OK, back.out + back.err
    assert server.get() == (200, f"{good_version} tinydep-1.0")


def kill(server: Server, sha: str, after: str, **overrides) -> str:
    """Deploy ``sha``, killed after the ``after`` line; return the deploy id."""
    params = server.params(sha, **overrides)
    killed = run_agent(params, server.env, kill_after=after)
    if not (after == "post-start" and killed.code == ExitCode.OK):
        # (after post-start the agent may finish its last writes before the kill lands)
        assert killed.code == -signal.SIGKILL, killed.out
        assert killed.result is None
    return params["deploy_id"]


@pytest.mark.parametrize("after", ("deploy",) + STEPS)
def test_killed_deploy_then_next_deploy_succeeds(server: Server, after: str):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    v2 = server.commit("v2", files=HOOKS)
    kill(server, v2, after)
    assert_recovers(server, v1, "v1", v2, "v2")


@pytest.mark.parametrize("after", (
    "verify", "rollback-stop", "rollback-sync", "rollback-deps", "rollback-start"))
def test_killed_rollback_then_next_deploy_succeeds(server: Server, after: str):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    v2 = server.commit("v2", status=500)
    kill(server, v2, after, health_timeout=0.3)
    assert server.state("last-good.json")["sha"] == v1
    v3 = server.commit("v3")
    assert_recovers(server, v1, "v1", v3, "v3")


def test_failed_deploy_after_a_killed_one_restores_the_last_good_files(server: Server):
    v1 = server.commit("v1", files={"config.txt": "origin\n"})
    assert server.deploy(v1).code == ExitCode.OK
    (server.app_dir / "config.txt").write_text("edited on the server\n")
    killed_id = kill(server, server.commit("v2"), "sync")  # killed as deps starts: tree at v2
    run = server.deploy(server.commit("v3", status=500), health_timeout=ROLLBACK_WAIT)
    assert run.code == ExitCode.ROLLED_BACK, run.out
    assert "deploy %s was interrupted during" % killed_id in run.out
    assert run.result["previous_sha"] == v1
    assert run.result["discarded_changes"] == ["config.txt"]
    assert server.head() == v1
    assert (server.app_dir / "config.txt").read_text() == "edited on the server\n"
    assert server.get() == (200, "v1 tinydep-1.0")
