"""Fixtures for the artifact tests: real git, pip, uv, venvs, processes, and moto S3 over HTTP."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ssm_action import artifact, artifact_store
from ssm_action.wheelhouse import WheelTarget
from tests.agent.agent_fixtures import free_port, kill_processes_under, uv_folder
from tests.artifact.artifact_fixtures import Project, Target, closed_port_env, pip_index_env, wheel_folder

BUCKET = "artifact-bucket"


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheel_folder(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="session")
def uv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return uv_folder(tmp_path_factory.mktemp("uvbin"))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "project")


@pytest.fixture
def pack(project: Project, wheels: Path, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Callable[..., artifact.Artifact]:
    """pack(sha, wheelhouse=True, platform, python, **kw): the runner's packing, pip reading only
    ``wheels``."""
    for key, value in pip_index_env(wheels).items():
        monkeypatch.setenv(key, value)
    counter = itertools.count()

    def run(sha: str, wheelhouse: bool = True, platform: str = "linux", python: str = "3.11",
            **kwargs: Any) -> artifact.Artifact:
        target = WheelTarget(platform, python) if wheelhouse else None
        folder = tmp_path / "packed" / str(next(counter))
        return artifact.pack(project.repo, sha, folder, wheels=target, **kwargs)
    return run


@pytest.fixture
def s3(aws: dict[str, str]) -> Any:
    """An S3 client on moto over HTTP, with the bucket made."""
    client = artifact_store.client("us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def target(tmp_path: Path, uv_dir: Path) -> Iterator[Target]:
    """A server folder whose package index is a closed port; its processes killed after."""
    root = tmp_path / "server"
    env = closed_port_env(free_port())  # bound once, then released: nothing listens there
    env["PATH"] = f"{uv_dir}{os.pathsep}{env['PATH']}"
    try:
        yield Target(root, env)
    finally:
        kill_processes_under(root)


@pytest.fixture(scope="session")
def versions(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> list[artifact.Artifact]:
    """Two versions of the app packed once per session: v1, and v2 with 3 MB more (several MiB
    chunks to download, many files to unpack)."""
    project = Project.create(tmp_path_factory.mktemp("versions") / "repo")
    out = tmp_path_factory.mktemp("versions-packed")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in pip_index_env(wheels).items():
            patch.setenv(key, value)
        target = WheelTarget("linux", "3.11")
        v1 = artifact.pack(project.repo, project.commit("v1"), out / "1", wheels=target)
        more = {f"static/{i:03}.txt": f"file {i}\n" for i in range(200)}
        v2 = artifact.pack(project.repo, project.commit("v2", {"static/blob.bin": os.urandom(3 << 20), **more}),
                           out / "2", wheels=target)
    return [v1, v2]


@pytest.fixture
def publish(s3: Any) -> Callable[[artifact.Artifact], dict[str, Any]]:
    """publish(artifact) -> the agent's artifact reference (presigned moto URL, sha256, size)."""
    def run(art: artifact.Artifact) -> dict[str, Any]:
        published = artifact_store.publish(s3, BUCKET, "deploys", art, expires=600)
        return {"url": published.url, "sha256": art.sha256, "size": art.size}
    return run
