"""The sample app deployed by the action (the entrypoint as a process, transport local), started by waitress with
app-command, configured with app-env and two app-secrets read from moto (server mode, auth on) through the IMDSv2
stand-in; its /health proves what it received, and the values show nowhere: not in the action's or the agent's
output, the dry run's SSM request, the summary, the outputs (audit record), the backups or the app's folders."""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.agent_fixtures import free_port, git, http_get, kill_processes_under
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.conftest import ROOT, RunnerFiles

SAMPLE = ROOT / "examples" / "sample-app"
CACHE = ROOT / ".cache"
SECRETS = "DATABASE_URL=ssm:/app/db-url\nNOTES_API_KEY=secretsmanager:app/keys#api_key\n"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def sample_wheels() -> Path:
    """The sample app's requirements as wheels, downloaded once (PyPI), then offline for every deploy."""
    requirements = SAMPLE / "requirements.txt"
    folder = CACHE / f"sample-wheels-{hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]}"
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / "sample-wheels.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "ready").exists():
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(folder),
                            "-r", str(requirements)], check=True, capture_output=True, timeout=600)
            (folder / "ready").touch()
    return folder


def release(origin: Path, version: str) -> str:
    app = origin / "app.py"
    app.write_text(re.sub(r'(?m)^__version__ = ".*"$', f'__version__ = "{version}"', app.read_text()))
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", version)
    return git(origin, "rev-parse", "HEAD")


def test_the_sample_app_under_waitress_gets_its_secrets_and_no_value_shows(
        tmp_path: Path, world: World, runner_files: RunnerFiles, sample_wheels: Path):
    origin, app_dir, port = tmp_path / "origin", tmp_path / "srv" / "app", free_port()
    shutil.copytree(SAMPLE, origin, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    git(origin, "init", "-q", "-b", "main")
    world.client()  # the IMDS stand-in serves app-role's credentials
    runner_files.env.update({"AWS_EC2_METADATA_SERVICE_ENDPOINT": world.imds.url, "AWS_ENDPOINT_URL": world.moto,
                             "AWS_REGION": "us-east-1", "AWS_SECRET_ACCESS_KEY": "runner-key-never-for-the-app",
                             "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(sample_wheels)})
    inputs = {"mode": "deploy", "transport": "local", "working-directory": str(origin), "environment": "demo",
              "create-deployment": "false", "app-directory": str(app_dir), "git-remote": str(origin),
              "server-installer": "pip", "app-command": f"waitress-serve --listen=127.0.0.1:{port} app:app",
              "app-env": "NOTES_MODE=production", "app-secrets": SECRETS,
              "health-check-url": f"http://127.0.0.1:{port}/health", "health-check-contains": '"mode": "production"'}
    texts = []
    try:
        for version in ("1.0.1", "1.0.2"):  # the second deploy backs the first up
            runner_files.env["GITHUB_SHA"] = release(origin, version)
            done = runner_files.run(inputs)
            texts += [done.stdout, done.stderr]
            assert done.returncode == 0, done.stdout + done.stderr
            answer = http_get(f"http://127.0.0.1:{port}/health")
            assert answer and answer[0] == 200, answer
            assert json.loads(answer[1]) == {
                "status": "ok", "version": version, "notes": 0, "mode": "production",
                "api_key": hashlib.sha256(API_KEY.encode()).hexdigest()[:12], "database": "db.internal:5432/notes"}
        outputs = runner_files.outputs()
        audit = json.loads(outputs["audit-json"])
        assert outputs["result"] == "success" and audit["result"] == "success" and audit["instances"]
        assert outputs["backup-path"] and Path(outputs["backup-path"]).is_file()
        assert "waitress-serve --listen=127.0.0.1" in done.stdout  # the start step names the command

        review = runner_files.run({**inputs, "transport": "ssm", "dry-run": "true", "platform": "linux",
                                   "instance-ids": "i-0123456789abcdef0", "app-directory": "/srv/notes",
                                   "aws-region": "us-east-1"})
        assert review.returncode == 0, review.stdout + review.stderr
        assert "ssm:/app/db-url" in review.stdout  # the dry run shows the references: what travels
        texts += [review.stdout, review.stderr]
        texts += [runner_files.summary.read_text(), runner_files.output.read_text()]
    finally:
        kill_processes_under(tmp_path)
    for value in (DB_URL, API_KEY, "s3cr3t-pw"):
        assert not [text for text in texts if value in text], value
        leaks = [p for p in (tmp_path / "srv").rglob("*") if p.is_file() and value.encode() in p.read_bytes()]
        assert not leaks, (value, leaks)
