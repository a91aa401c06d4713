"""``source: artifact`` through the whole agent (its zipapp, real venvs, processes and health checks):
``mode: rollback`` switches back to the release still installed (no download, no install); a version put
back starts with its own recorded command; and the app's secrets, read from moto through the IMDS
stand-in, reach the app and no value lands in a release, the state folder, the logs or the output."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssm_action.agent.links import Links
from ssm_action.agent.releases import Releases
from ssm_action.contract import ExitCode
from ssm_action.deploy import artifact
from tests.agent.agent_fixtures import APP_TEMPLATE, ROLLBACK_WAIT, AgentRun, run_agent
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.agent.test_app_deploy import SECRETS, SERVE, assert_nowhere
from tests.artifact.artifact_fixtures import Project, Target

IDS = itertools.count(1)
Pack = Callable[..., artifact.Artifact]


def agent(target: Target, art: artifact.Artifact, env: dict[str, str] | None = None, **params: Any) -> AgentRun:
    """The agent's zipapp deploys ``art`` (a local folder store) into the target."""
    args = {"deploy_id": f"{next(IDS)}-1", "app_dir": str(target.app_dir), "sha": art.commit, "platform": "linux",
            "installer": "uv", "backup_retention": 3, "source": "artifact", "artifact_url": str(art.path),
            "artifact_sha256": art.sha256, "artifact_size": art.size,
            "health_url": f"http://127.0.0.1:{target.port}/health", "health_timeout": ROLLBACK_WAIT,
            "start_grace": 0.2, "stop_timeout": 5, "app_env": {"APP_PORT": str(target.port)}, **params}
    return run_agent(args, env or target.env)


def steps(run: AgentRun) -> list[str]:
    return [s["name"] for s in run.result["steps"]]


def detail(run: AgentRun, step: str) -> str:
    """The text of the step's line (after name, ok and time)."""
    line = next(line for line in run.out.splitlines() if line.split()[:2] == [step, "ok"])
    return line.split(None, 3)[3]


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def test_mode_rollback_switches_back_to_the_installed_release(target: Target, project: Project, pack: Pack):
    v1, v2 = pack(project.commit("v1")), pack(project.commit("v2"))
    assert agent(target, v1).code == ExitCode.OK
    releases = Releases(str(target.app_dir), Links())
    first = releases.current()
    venv = target.app_dir / ".venv" / "pyvenv.cfg"
    installed = venv.stat().st_mtime_ns
    assert agent(target, v2).code == ExitCode.OK and target.get() == (200, "v2 tinydep-1.0")
    second = releases.current()

    back = agent(target, v2, action="rollback")  # the workflow's own (newer) artifact: not used
    assert back.code == ExitCode.OK, back.out + back.err
    assert steps(back) == ["lock", "secrets", "record", "prepare", "pre-stop", "stop", "switch", "start",
                           "verify", "post-start", "keep"]
    assert detail(back, "prepare") == (f"putting back release {first} (no download, no reinstall); previous "
                                       f"release {second} (commit {v2.commit[:12]})")
    assert (back.result["running_sha"], back.result["previous_sha"]) == (v1.commit, v2.commit)
    assert releases.current() == first and target.get() == (200, "v1 tinydep-1.0")
    assert venv.stat().st_mtime_ns == installed  # its venv, as installed by the first deploy
    again = agent(target, v2, action="rollback")  # v1 was the first: nothing older
    assert again.code == ExitCode.FAILED and "nothing to roll back to" in again.result["error"]


def test_mode_rollback_to_a_removed_release_changes_nothing_and_says_so(target: Target, project: Project,
                                                                        pack: Pack):
    v1, v2 = pack(project.commit("v1")), pack(project.commit("v2"))
    assert agent(target, v1).code == ExitCode.OK
    releases = Releases(str(target.app_dir), Links())
    first = releases.current()
    assert agent(target, v2).code == ExitCode.OK
    shutil.rmtree(releases.path(first))
    back = agent(target, v2, action="rollback")
    assert back.code == ExitCode.FAILED, back.out
    assert back.result["error"] == (f"prepare: no release of commit {v1.commit[:12]} is kept on this server: "
                                    "deploy that commit again (nothing was changed: the app kept running)")
    assert target.get() == (200, "v2 tinydep-1.0")


def test_an_artifact_rollback_starts_the_old_release_with_its_own_command(target: Target, project: Project,
                                                                          pack: Pack):
    v1 = pack(project.commit("v1"))
    v2 = pack(project.commit("v2", {"app.py": APP_TEMPLATE.format(version="v2", status=500, prelude="")}))
    assert agent(target, v1).code == ExitCode.OK  # app.py as the entry
    bad = agent(target, v2, app_command=["-m", "app"])
    assert bad.code == ExitCode.ROLLED_BACK, bad.out
    assert target.get() == (200, "v1 tinydep-1.0")
    argv = cmdline(bad.result["pid"])
    assert argv[1:] == [str(target.app_dir / "app.py")], argv


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_an_artifact_deploys_app_gets_its_secrets_and_no_value_is_kept(target: Target, project: Project,
                                                                       pack: Pack, world: World):
    world.client("app-role")  # the IMDS stand-in serves this role's credentials
    env = {**target.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT": world.imds.url, "AWS_ENDPOINT_URL": world.moto,
           "AWS_REGION": "us-east-1"}
    hook = "import os\nprint('migrating', os.environ['DB_URL'])\n"
    files = {"serve.py": SERVE.format(version="v1", status=200, prelude=""), "deploy/hooks/post-start.py": hook}
    v1 = pack(project.commit("v1", files))
    v2 = pack(project.commit("v2", dict(files, **{"serve.py": SERVE.format(version="v2", status=500, prelude="")})))
    command = ["serve.py", str(target.port)]
    first = agent(target, v1, env, app_command=command, app_secrets=SECRETS)
    assert first.code == ExitCode.OK, first.out + first.err
    assert "read API_KEY, DB_URL" in detail(first, "secrets")
    got = target.get()
    assert got and json.loads(got[1])["DB_URL"] == sha(DB_URL) and json.loads(got[1])["API_KEY"] == sha(API_KEY)
    bad = agent(target, v2, env, app_command=command, app_secrets=SECRETS)  # rolled back: started again
    assert bad.code == ExitCode.ROLLED_BACK, bad.out
    got = target.get()
    assert got and json.loads(got[1]) == {**json.loads(got[1]), "version": "v1", "DB_URL": sha(DB_URL)}
    assert "migrating ***" in Path(first.result["log_file"]).read_text()
    assert os.listdir(target.root / "srv") and (target.root / "srv" / "app.releases").is_dir()
    assert_nowhere([DB_URL, API_KEY, "s3cr3t-pw"], [first.out, first.err, bad.out, bad.err], target.root)
    v3 = pack(project.commit("v3", {"serve.py": SERVE.format(version="v3", status=200, prelude=""),
                                    "deploy/hooks/post-start.py": "pass\n"}))
    assert agent(target, v3, env, app_command=command).code == ExitCode.OK  # without secrets
    # v1 was started with secrets and v3 without: a rollback's agent carries the secrets module, so v1 comes
    # back with its own secrets read again (its post-start hook needs DB_URL)
    back = agent(target, v3, env, app_command=command, action="rollback")
    assert back.code == ExitCode.OK, back.out + back.err
    assert "read API_KEY, DB_URL" in detail(back, "secrets")
    got = target.get()
    assert got and json.loads(got[1]) == {**json.loads(got[1]), "version": "v1", "DB_URL": sha(DB_URL)}
    assert_nowhere([DB_URL, API_KEY, "s3cr3t-pw"], [back.out, back.err], target.root)
