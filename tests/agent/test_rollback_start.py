"""A version put back starts as it was started: its own command, plain variables and host, recorded
per good version in last-good.json (never a secret's value), through the real agent, git, venvs,
processes and health checks; automatic rollback and ``mode: rollback``; old records without it."""

from __future__ import annotations

import json
from pathlib import Path

from ssm_action.agent import history
from ssm_action.contract import ExitCode, parse_params
from tests.agent.agent_fixtures import ROLLBACK_WAIT, Server, run_agent
from tests.agent.aws_world import DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.agent.test_app_deploy import SECRETS, SERVE, agent_env, sha

A = ["serve.py", "{port}", "--workers", "2"]
B = ["-m", "notes_server", "{port}", "--fast"]


def commit(server: Server, version: str, status: int = 200) -> str:
    code = SERVE.format(version=version, status=status, prelude="")
    return server.commit(version, files={"serve.py": code, "notes_server.py": code})


def deploy(server: Server, sha: str, command: list[str], mode: str, **params):
    words = [w.format(port=server.port) for w in command]
    return server.deploy(sha, app_command=words, app_env={"APP_PORT": str(server.port), "APP_MODE": mode},
                         **params)


def answer(server: Server) -> dict:
    got = server.get()
    assert got and got[0] == 200, got
    return json.loads(got[1])


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def test_an_automatic_rollback_starts_the_old_version_with_its_own_command(server: Server):
    v1 = deploy(server, commit(server, "v1"), A, "prod")
    assert v1.code == ExitCode.OK, v1.out
    bad = deploy(server, commit(server, "v2", status=500), B, "canary", health_timeout=ROLLBACK_WAIT)
    assert bad.code == ExitCode.ROLLED_BACK, bad.out
    assert answer(server) == {**answer(server), "version": "v1", "argv": ["--workers", "2"], "mode": "prod"}
    argv = cmdline(bad.result["pid"])
    assert argv[1].endswith("/serve.py") and "notes_server" not in argv, argv
    assert "rollback-start   ok" in bad.out and "serve.py" in bad.out.split("rollback-start")[1].splitlines()[0]
    recorded = server.state("last-good.json")["started_with"]  # still v1's
    assert recorded["app_command"][0] == "serve.py" and recorded["app_env"]["APP_MODE"] == "prod"
    assert set(recorded) == set(history.STARTED_WITH)


def test_mode_rollback_starts_the_last_good_version_with_its_own_command(server: Server):
    v1 = commit(server, "v1")
    assert deploy(server, v1, A, "prod").code == ExitCode.OK
    assert deploy(server, commit(server, "v2"), B, "canary").code == ExitCode.OK
    assert answer(server)["argv"] == ["--fast"]
    back = deploy(server, "f" * 40, B, "canary", action="rollback")  # the workflow's current parameters
    assert back.code == ExitCode.OK, back.out + back.err
    assert back.result["running_sha"] == v1
    assert answer(server) == {**answer(server), "version": "v1", "argv": ["--workers", "2"], "mode": "prod"}
    assert cmdline(back.result["pid"])[1].endswith("/serve.py")


def test_a_record_without_started_with_falls_back_to_the_current_parameters(server: Server):
    assert deploy(server, commit(server, "v1"), A, "prod").code == ExitCode.OK
    state = Path(f"{server.app_dir}.deploy") / "last-good.json"
    old = json.loads(state.read_text())
    old.pop("started_with", None)  # written by an agent before the record existed
    state.write_text(json.dumps(old))
    bad = deploy(server, commit(server, "v2", status=500), A, "canary", health_timeout=ROLLBACK_WAIT)
    assert bad.code == ExitCode.ROLLED_BACK, bad.out
    assert answer(server) == {**answer(server), "version": "v1", "argv": ["--workers", "2"], "mode": "canary"}


def test_start_params_take_a_whole_record_only():
    params, errors = parse_params({"deploy_id": "1-1", "app_dir": "/srv/app", "sha": "a" * 40, "platform": "linux",
                                   "app_command": ["-m", "new"], "app_env": {"MODE": "new"}})
    assert params is not None, errors
    old = dict(history.started_with(params), app_command=["old.py"], app_env={"MODE": "old"})
    put_back = history.start_params(params, old)
    assert (put_back.app_command, put_back.app_env, put_back.sha) == (["old.py"], {"MODE": "old"}, "a" * 40)
    assert history.start_params(params, None) is params
    partial = {k: v for k, v in old.items() if k != "app_host"}
    assert history.start_params(params, partial) is params
    assert set(history.started_with(params)) == {"app_command", "entry", "app_env", "app_secrets", "app_host",
                                                 "app_user"}


def test_secrets_follow_the_version_put_back_and_a_missing_feature_falls_back(server: Server, world: World):
    def deploy_(sha_: str, **params):
        args = server.params(sha_, app_command=[w.format(port=server.port) for w in A], **params)
        return run_agent(args, agent_env(server, world))

    assert deploy_(commit(server, "v1")).code == ExitCode.OK  # no secrets
    bad = deploy_(commit(server, "v2", status=500), app_secrets=SECRETS, health_timeout=ROLLBACK_WAIT)
    assert bad.code == ExitCode.ROLLED_BACK, bad.out
    assert answer(server)["DB_URL"] == sha("")  # v1 never had it: not given to it on the way back
    assert deploy_(commit(server, "v3"), app_secrets=SECRETS).code == ExitCode.OK
    # v4 drops the secrets, so its agent carries no secrets module: v3 comes back without them, and it says so
    bad = deploy_(commit(server, "v4", status=500), health_timeout=ROLLBACK_WAIT)
    assert bad.code == ExitCode.ROLLED_BACK, bad.out
    assert ("the version put back was started with app-secrets, which this agent does not carry: starting it "
            "with this deploy's parameters") in bad.out
    assert answer(server)["version"] == "v3"
    assert DB_URL not in server.state("last-good.json").__repr__()
