"""``python -m ssm_action --mode deploy --transport local --source artifact``, end to end, in real processes.

The runner packs the commit and stores it in moto S3 over HTTP (or a local folder); the agent downloads
the presigned URL, verifies, installs and switches. The "server" (the agent's environment, set through
the local transport's SSM_ACTION_SERVER_* settings) has its package index at a closed port; the runner
reads its wheels from a local folder.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssm_action import payload
from ssm_action.deploy import plan
from tests import factories
from tests.agent.agent_fixtures import APP_TEMPLATE, ROLLBACK_WAIT, free_port, http_get, kill_processes_under
from tests.artifact.artifact_fixtures import PY38, Project, closed_port_env, pip_index_env
from tests.artifact.conftest import BUCKET
from tests.ssm.conftest import CTX

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("PIP_INDEX_URL", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "PIP_RETRIES")


class Runner:
    """The action as a process on this machine, and the app folder it deploys into."""

    def __init__(self, root: Path, project: Project, env: dict[str, str]) -> None:
        self.root, self.project, self.env = root, project, env
        self.port = int(env["APP_PORT"])
        self.app_dir = root / "server" / "app"
        self.cache = root / "cache"

    def deploy(self, *flags: str, source: str = "artifact", mode: str = "deploy",
               **env: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "ssm_action", "--mode", mode, "--transport", "local", "--source", source,
                "--working-directory", str(self.project.repo), "--environment", "test", "--create-deployment", "false",
                "--app-directory", str(self.app_dir), "--cache-directory", str(self.cache),
                "--health-check-url", f"http://127.0.0.1:{self.port}/health",
                "--health-check-timeout", str(ROLLBACK_WAIT), *flags]
        return subprocess.run(argv, cwd=ROOT, env={**self.env, **env}, capture_output=True, text=True, timeout=600)

    def get(self) -> tuple[int, str] | None:
        return http_get(f"http://127.0.0.1:{self.port}/health")


@pytest.fixture
def runner(tmp_path: Path, wheels: Path, uv_dir: Path, aws: dict[str, str]) -> Iterator[Runner]:
    closed = closed_port_env(free_port())  # the server's index: nothing listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "GITHUB_", "INPUT_"))}
    env.update(aws, **pip_index_env(wheels), APP_PORT=str(free_port()), UV_NO_CONFIG="1",
               PATH=f"{uv_dir}{os.pathsep}{env['PATH']}")
    env.update({f"SSM_ACTION_SERVER_{name}": closed[name] for name in SERVER_ONLY})
    env.update(SSM_ACTION_SERVER_PIP_NO_INDEX="", SSM_ACTION_SERVER_PIP_FIND_LINKS="")  # unset for the agent
    project = Project.create(tmp_path / "repo")
    try:
        yield Runner(tmp_path, project, env)
    finally:
        kill_processes_under(tmp_path)


def stored(s3: Any) -> list[str]:
    """The artifacts in the bucket (the audit record goes there too)."""
    found = s3.list_objects_v2(Bucket=BUCKET, Prefix="ssm-deploy/artifacts/").get("Contents", [])
    return [item["Key"] for item in found]


def test_a_wheelhouse_deploys_through_s3_with_no_index_and_a_failure_switches_back(runner: Runner, s3: Any):
    v1 = runner.project.commit("v1")
    done = runner.deploy("--wheelhouse", "true", "--s3-bucket", BUCKET, "--aws-region", "us-east-1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert runner.get() == (200, "v1 tinydep-1.0")
    assert [key.split("/")[-1].split("-")[0] for key in stored(s3)] == [v1]
    assert "from 1 wheel(s), no index" in done.stdout and "X-Amz-Signature" not in done.stdout
    assert os.readlink(runner.app_dir).startswith(str(runner.app_dir) + ".releases")

    again = runner.deploy("--wheelhouse", "true", "--s3-bucket", BUCKET, "--aws-region", "us-east-1")
    assert again.returncode == 0 and "nothing uploaded" in again.stdout, again.stdout
    assert len(stored(s3)) == 1

    runner.project.commit("v2", {"app.py": APP_TEMPLATE.format(version="v2", status=500, prelude="")})
    bad = runner.deploy("--wheelhouse", "true", "--s3-bucket", BUCKET, "--aws-region", "us-east-1")
    assert bad.returncode != 0 and "rollback-switch" in bad.stdout and "no reinstall" in bad.stdout
    assert "rollback-deps" not in bad.stdout and runner.get() == (200, "v1 tinydep-1.0")


def test_mode_rollback_packs_nothing_and_switches_back_to_the_kept_release(runner: Runner, s3: Any):
    store = ("--wheelhouse", "true", "--s3-bucket", BUCKET, "--aws-region", "us-east-1")
    runner.project.commit("v1")
    assert runner.deploy(*store).returncode == 0
    runner.project.commit("v2")
    assert runner.deploy(*store).returncode == 0 and runner.get() == (200, "v2 tinydep-1.0")
    runner.project.commit("v3")  # the workflow's commit now: never packed by a rollback
    back = runner.deploy(*store, mode="rollback")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "mode rollback: no artifact packed" in back.stdout and len(stored(s3)) == 2
    assert "(no download, no reinstall)" in back.stdout and "  install " not in back.stdout
    assert runner.get() == (200, "v1 tinydep-1.0")


def test_without_a_wheelhouse_the_deploy_fails_before_the_app_stops(runner: Runner, s3: Any):
    runner.project.commit("v1")
    assert runner.deploy("--wheelhouse", "true", "--s3-bucket", BUCKET).returncode == 0
    runner.project.commit("v2")
    done = runner.deploy("--s3-bucket", BUCKET)
    assert done.returncode != 0
    assert "the artifact has no wheelhouse, so this server needs a package index" in done.stdout
    assert "nothing was changed: the app kept running" in done.stdout
    steps = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("  install ")]
    assert steps and "  stop " not in done.stdout
    assert runner.get() == (200, "v1 tinydep-1.0")


def test_a_local_folder_store_without_s3_bucket(runner: Runner):
    v1 = runner.project.commit("v1")
    done = runner.deploy("--wheelhouse", "true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name.split("-")[0] for p in (runner.cache / "artifacts").iterdir()] == [v1]
    assert runner.get() == (200, "v1 tinydep-1.0")
    assert "nothing uploaded" in runner.deploy("--wheelhouse", "true").stdout


def test_a_dry_run_shows_the_artifact_and_uploads_nothing(runner: Runner, s3: Any):
    runner.project.commit("v1", {"notes/readme.txt": "shipped", ".gitattributes": "secret.txt export-ignore\n",
                                 "secret.txt": "never shipped"})
    (runner.project.repo / "untracked.txt").write_text("not committed")
    done = runner.deploy("--wheelhouse", "true", "--s3-bucket", BUCKET, "--dry-run", "true")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "sha256 " in out and " bytes" in out and "(not uploaded: dry run)" in out
    assert "  notes/readme.txt" in out and "  .wheelhouse/tinydep-1.0-py3-none-any.whl" in out
    assert "secret.txt\n" not in out.replace(".gitattributes", "") and "untracked.txt" not in out
    assert stored(s3) == [] and not runner.app_dir.exists()


KILL_THE_AGENT = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"  # a hook's parent is the agent


@pytest.mark.parametrize("hook", ["pre-stop", "post-start"])
def test_an_agent_killed_before_the_stop_or_after_the_switch_loses_nothing(runner: Runner, hook: str):
    """Killed in pre-stop (nothing changed) or post-start (switched, not yet good): the next deploy
    succeeds, and a failing one after it goes back to the last GOOD release, not the killed one."""
    runner.project.commit("v1")
    assert runner.deploy("--wheelhouse", "true").returncode == 0
    runner.project.commit("v2", {f"deploy/hooks/{hook}.py": KILL_THE_AGENT})
    killed = runner.deploy("--wheelhouse", "true")
    assert killed.returncode != 0 and "without a result line" in killed.stdout + killed.stderr
    runner.project.commit("v3", {"app.py": APP_TEMPLATE.format(version="v3", status=500, prelude=""),
                                 f"deploy/hooks/{hook}.py": "pass\n"})
    bad = runner.deploy("--wheelhouse", "true")
    assert bad.returncode != 0 and "rolled back" in bad.stdout.lower(), bad.stdout
    assert runner.get() == (200, "v1 tinydep-1.0")
    runner.project.commit("v4")
    assert runner.deploy("--wheelhouse", "true").returncode == 0
    assert runner.get() == (200, "v4 tinydep-1.0")


def test_a_server_deployed_from_git_switches_to_artifacts_and_can_go_back(runner: Runner, wheels: Path):
    """The first artifact deploy moves the git clone aside as a release; a failing one after it goes back."""
    runner.project.commit("v1")
    from_git = runner.deploy("--git-remote", str(runner.project.repo), source="git",  # while an index was there
                             SSM_ACTION_SERVER_UV_OFFLINE="1", SSM_ACTION_SERVER_UV_FIND_LINKS=str(wheels),
                             SSM_ACTION_SERVER_UV_DEFAULT_INDEX="", SSM_ACTION_SERVER_UV_INDEX_URL="")
    assert from_git.returncode == 0, from_git.stdout + from_git.stderr
    assert (runner.app_dir / ".git").is_dir() and runner.get() == (200, "v1 tinydep-1.0")
    runner.project.commit("v2", {"app.py": APP_TEMPLATE.format(version="v2", status=500, prelude="")})
    bad = runner.deploy("--wheelhouse", "true")
    assert bad.returncode != 0 and "moved the git clone aside as release" in bad.stdout, bad.stdout
    assert "rollback-switch" in bad.stdout and runner.get() == (200, "v1 tinydep-1.0")
    assert os.readlink(runner.app_dir).endswith("-adopted") and (runner.app_dir / ".git").is_dir()
    runner.project.commit("v3")
    assert runner.deploy("--wheelhouse", "true").returncode == 0 and runner.get() == (200, "v3 tinydep-1.0")


def test_a_python_3_8_server_gets_a_wheelhouse_for_3_8(runner: Runner):
    runner.project.commit("v1")
    done = runner.deploy("--wheelhouse", "true", "--server-python", PY38)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"python":"3.8.' in done.stdout and "from 1 wheel(s), no index" in done.stdout
    assert runner.get() == (200, "v1 tinydep-1.0")


def test_config_names_the_input_the_value_and_the_fix(tmp_path: Path):
    ssm = {"mode": "deploy", "source": "artifact", "instance_ids": "i-0123456789abcdef0", "aws_region": "us-east-1",
           "app_directory": "C:\\apps\\web"}
    _, errors = factories.parse(tmp_path, {}, **ssm, wheelhouse="true")
    assert [(e.input, e.message.split(":")[0]) for e in errors] == [
        ("s3-bucket", "is required with source"), ("server-python-version", "is required with wheelhouse")]
    _, errors = factories.parse(tmp_path, {}, **ssm, s3_bucket="b-artifacts", server_python_version="3.x")
    assert [(e.input, e.value) for e in errors] == [("server-python-version", "3.x")]
    _, errors = factories.parse(tmp_path, {}, mode="deploy", transport="local", app_directory="a", wheelhouse="true")
    assert [e.input for e in errors] == ["wheelhouse"] and "set source: artifact" in errors[0].message
    _, errors = factories.parse(tmp_path, {}, mode="deploy", transport="local", app_directory="a", source="svn")
    assert [(e.input, e.value) for e in errors] == [("source", "svn")]


def test_the_presigned_url_is_a_secret_parameter(tmp_path: Path):
    cfg = factories.deploy_config(tmp_path, {}, transport="local", app_directory="a", source="artifact")
    the_plan = plan.build(cfg, CTX, "test")
    shown = dataclasses.replace(the_plan, params=dataclasses.replace(the_plan.params,
                                                                     artifact_url="https://s3/k?X-Amz-Signature=s"))
    assert shown.shown_params()["artifact_url"] == "(hidden)" and the_plan.params.source == "artifact"
    assert "artifact" in payload.extras_for(the_plan.params.to_json()) and "delivery.py" not in "".join(
        payload.build().members)


def test_a_same_size_object_planted_at_the_address_is_refused_and_the_old_version_keeps_serving(runner: Runner):
    """The runner reuses what is stored under the content address (by size), so the server's sha256
    check is what stands between a planted or damaged object and the app."""
    runner.project.commit("v1")
    assert runner.deploy("--wheelhouse", "true").returncode == 0
    runner.project.commit("v2", {"app.py": APP_TEMPLATE.format(version="v2", status=200, prelude="")})
    dry = runner.deploy("--wheelhouse", "true", "--dry-run", "true")
    [where] = re.findall(r"would be stored at (\S+\.zip) \(not copied: dry run\)", dry.stdout)
    size = int(re.search(r": (\d+) bytes, sha256 ", dry.stdout).group(1))
    planted = Path(where)
    planted.write_bytes(b"\0" * size)  # what a writer of the store could leave there

    done = runner.deploy("--wheelhouse", "true")
    assert done.returncode != 0
    assert "nothing uploaded" in done.stdout  # reused by size: the runner cannot tell
    assert "it was changed after the upload or the URL is wrong; refused" in done.stdout, done.stdout
    assert "nothing was changed: the app kept running" in done.stdout and "  stop " not in done.stdout
    assert runner.get() == (200, "v1 tinydep-1.0")
    assert not any(p.name.startswith("v2") for p in runner.app_dir.parent.rglob("*") if p.is_dir())
