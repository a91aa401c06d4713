"""Fixtures for the deploy agent tests: real git, venvs, processes and HTTP on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.agent.agent_fixtures import Server, build_wheel, serving, uv_folder


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="session")
def uv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return uv_folder(tmp_path_factory.mktemp("uvbin"))


@pytest.fixture
def server(tmp_path: Path, wheel: Path, uv_dir: Path) -> Iterator[Server]:
    """An origin repo and a server folder; every process started under it is killed after."""
    with serving(tmp_path, wheel, uv_dir) as srv:
        yield srv
