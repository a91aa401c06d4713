"""Fixtures for the artifact tests: a real git project, a local wheel folder (the package index
for pip download), real agent-side processes, and the app started from ``app_dir``.

Shared by the tests here and by benchmarks/artifact_bench.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.agent.agent_fixtures import APP_TEMPLATE, agent_zipapp, build_wheel, free_port, git, http_get

ARTIFACT = frozenset({"artifact"})  # the agent modules an artifact deploy ships

DRIVER = Path(__file__).with_name("release_driver.py")
PY38 = "/root/.pyenv/versions/3.8.18/bin/python"


def wheel_folder(folder: Path) -> Path:
    """A find-links folder: tinydep (pure), native (a Windows-only wheel), sdistonly (no wheel)."""
    folder.mkdir(parents=True, exist_ok=True)
    build_wheel(folder)
    native = build_wheel(folder, "native", "1.0")
    native.rename(folder / "native-1.0-cp311-cp311-win_amd64.whl")
    (folder / "sdistonly-1.0.tar.gz").write_bytes(b"never opened: pip download takes wheels only")
    return folder


def pip_index_env(wheels: Path) -> dict[str, str]:
    """pip download reads only ``wheels`` (no network, no user config)."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONFIG_FILE": os.devnull}


def closed_port_env(port: int) -> dict[str, str]:
    """An agent environment whose package index is a closed port on 127.0.0.1."""
    index = f"http://127.0.0.1:{port}/simple/"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(PIP_INDEX_URL=index, UV_INDEX_URL=index, UV_DEFAULT_INDEX=index, PIP_RETRIES="0",
               PIP_CONFIG_FILE=os.devnull, UV_NO_CONFIG="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


@dataclass
class Project:
    """A git repository of the app; ``commit`` writes files and returns the new SHA."""

    repo: Path

    @classmethod
    def create(cls, repo: Path) -> "Project":
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        return cls(repo)

    def commit(self, version: str, files: dict[str, str | bytes] | None = None, subdir: str = "") -> str:
        base = self.repo / subdir
        content: dict[str, str | bytes] = {
            "app.py": APP_TEMPLATE.format(version=version, status=200, prelude=""),
            "requirements.txt": "tinydep==1.0\n", **(files or {})}
        for rel, data in content.items():
            path = base / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data if isinstance(data, bytes) else data.encode())
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", version)
        return git(self.repo, "rev-parse", "HEAD")


@dataclass
class DriverRun:
    code: int
    out: str
    err: str

    def detail(self, step: str) -> str:
        for line in self.out.splitlines():
            if line.startswith(f"{step} ok "):
                return line[len(step) + 4:]
        return ""

    @property
    def release(self) -> str:
        lines = [line.split()[1] for line in self.out.splitlines() if line.startswith("release ")]
        return lines[-1] if lines else ""


@dataclass
class Target:
    """A server folder to deliver releases into, with the app started from ``app_dir``."""

    root: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)

    @property
    def app_dir(self) -> Path:
        return self.root / "srv" / "app"

    def params(self, sha: str, ref: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        return {"deploy_id": "1-1", "app_dir": str(self.app_dir), "sha": sha, "platform": "linux",
                "installer": "uv", "backup_retention": 2, "artifact_url": ref["url"],
                "artifact_sha256": ref["sha256"], "artifact_size": ref["size"], **overrides}

    def deliver(self, sha: str, ref: dict[str, Any], *flags: str, python: str = sys.executable,
                **overrides: Any) -> DriverRun:
        """The delivery steps in a real process (the agent's zipapp on its path)."""
        with tempfile.TemporaryDirectory() as tmp:
            params = Path(tmp) / "params.json"
            params.write_text(json.dumps(self.params(sha, ref, **overrides)))
            env = {**self.env, "PYTHONPATH": str(agent_zipapp(ARTIFACT))}
            done = subprocess.run([python, str(DRIVER), str(params), *flags], capture_output=True,
                                  text=True, env=env, timeout=300, start_new_session=True)
        return DriverRun(done.returncode, done.stdout, done.stderr)

    def start_app(self) -> subprocess.Popen:
        """The app as the agent starts it: <app_dir>/.venv/bin/python <app_dir>/app.py."""
        app = self.app_dir
        return subprocess.Popen([str(app / ".venv" / "bin" / "python"), str(app / "app.py")], cwd=app,
                                env={**os.environ, "APP_PORT": str(self.port)}, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(self) -> tuple[int, str] | None:
        return http_get(f"http://127.0.0.1:{self.port}/health")


def wait_for(target: Target, body: str, timeout: float = 15) -> tuple[int, str] | None:
    """The app's answer once it is ``(200, body)``, or the last answer after ``timeout``."""
    import time
    deadline = time.monotonic() + timeout
    answer = target.get()
    while answer != (200, body) and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = target.get()
    return answer
