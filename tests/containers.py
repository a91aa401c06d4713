"""Build the action's image once and run it the way the GitHub runner does.

Image builds are keyed by a hash of what goes into the image, and serialised
with a file lock, so pytest-xdist workers share one build.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE_INPUTS = ("Dockerfile", ".dockerignore", "requirements.txt", "requirements-tools.txt",
                "action.yml", "entrypoint.py", "post_entrypoint.py", "ssm_action")


@functools.cache
def podman_env() -> dict[str, str]:
    """The environment scripts/podman-env.sh sets up."""
    out = subprocess.run(
        ["bash", "-c", f"source {ROOT}/scripts/podman-env.sh && env -0"],
        capture_output=True, check=True,
    ).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def image_tag() -> str:
    digest = hashlib.sha256()
    for name in IMAGE_INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes())
    return f"localhost/ssm-deploy-action:test-{digest.hexdigest()[:16]}"


def build_image() -> str:
    env = podman_env()
    tag = image_tag()
    lock_path = Path(env["PODMAN_HOME"]) / "build.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if subprocess.run(["podman", "image", "exists", tag], env=env).returncode != 0:
            subprocess.run([str(ROOT / "scripts/build-image.sh"), tag], env=env, check=True,
                           capture_output=True, timeout=1200)
    return tag


def podman_available() -> bool:
    return shutil.which("podman") is not None and shutil.which("mmdebstrap") is not None


def run_action(image: str, workspace: Path, inputs: dict[str, str], env: dict[str, str] | None = None,
               args: list[str] | None = None, timeout: float = 600,
               entrypoint: str | None = None) -> tuple[subprocess.CompletedProcess, Path]:
    """docker run as the runner does it: workdir, mounts, INPUT_* env, file-command paths
    (and --entrypoint for a post step)."""
    commands = workspace.parent / (workspace.name + "-file-commands")
    commands.mkdir(exist_ok=True)
    for name in ("output", "summary", "state", "env"):
        (commands / name).touch()
    variables = {
        "GITHUB_ACTIONS": "true", "CI": "true", "HOME": "/github/home",
        "GITHUB_WORKSPACE": "/github/workspace",
        "GITHUB_OUTPUT": "/github/file_commands/output",
        "GITHUB_STEP_SUMMARY": "/github/file_commands/summary",
        "GITHUB_STATE": "/github/file_commands/state",
        "GITHUB_ENV": "/github/file_commands/env",
        **{f"INPUT_{k.upper()}": v for k, v in inputs.items()},
        **(env or {}),
    }
    cmd = ["podman", "run", "--rm", "--workdir", "/github/workspace",
           "-v", f"{workspace}:/github/workspace", "-v", f"{commands}:/github/file_commands"]
    for key, value in variables.items():
        cmd += ["-e", f"{key}={value}"]
    if entrypoint:
        cmd += ["--entrypoint", entrypoint]
    done = subprocess.run(cmd + [image] + (args or []), env=podman_env(), capture_output=True,
                          text=True, timeout=timeout)
    return done, commands
