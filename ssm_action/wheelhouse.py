"""The wheelhouse: the app's requirements as wheels for the servers' platform and Python.

``pip download --platform --python-version`` alone evaluates environment markers
(``python_version < "3.10"``, ``sys_platform == "win32"``) for the RUNNER, not for the
servers, so it silently leaves out what a 3.8 or a Windows server needs. When uv is
there (the action's image has it), ``uv pip compile --python-platform --python-version``
first pins the requirements for the servers (markers evaluated for them), and pip then
downloads exactly those pins (``--no-deps``). Without uv, pip resolves alone (and the
markers are the runner's). Both read pip's index settings from the environment
(``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX``).

A requirement that has no wheel for the servers is an ActionError naming it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess  # nosec B404 # uv pip compile and pip download
import sys
from dataclasses import dataclass
from pathlib import Path

from ssm_action.errors import ActionError

PLATFORM_TAGS = {"linux": ("manylinux2014_x86_64",), "windows": ("win_amd64",)}
UV_PLATFORMS = {"linux": "x86_64-manylinux_2_17", "windows": "x86_64-pc-windows-msvc"}
TIMEOUT = 900


@dataclass(frozen=True)
class WheelTarget:
    """The servers' platform and Python, for the wheelhouse."""

    platform: str  # linux or windows
    python_version: str  # major.minor, e.g. 3.11
    tags: tuple[str, ...] = ()  # pip --platform values; default per platform

    @property
    def platforms(self) -> tuple[str, ...]:
        return self.tags or PLATFORM_TAGS[self.platform]

    @property
    def wanted(self) -> str:
        return f"{'/'.join(self.platforms)} and Python {self.python_version}"


def find_uv() -> str | None:
    """uv on PATH, beside this Python, or in the image's tool environment."""
    for candidate in (shutil.which("uv"), str(Path(sys.executable).with_name("uv")), "/opt/tools/bin/uv"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def uv_index_args(env: dict[str, str]) -> list[str]:
    """pip's index settings from ``env``, as uv options (uv reads only its own variables)."""
    args = ["--no-index"] if env.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on") else []
    if env.get("PIP_INDEX_URL"):
        args += ["--index-url", env["PIP_INDEX_URL"]]
    args += [arg for url in env.get("PIP_EXTRA_INDEX_URL", "").split() for arg in ("--extra-index-url", url)]
    return args + [arg for link in env.get("PIP_FIND_LINKS", "").split() for arg in ("--find-links", link)]


def _last_lines(output: str, count: int = 4) -> str:
    return " ".join([line.strip() for line in output.splitlines() if line.strip()][-count:]) or "no message"


def _run(tool: str, argv: list[str], cwd: Path, missing: str, target: WheelTarget) -> None:
    """Run ``tool``; on failure, an ActionError naming the requirement ``missing`` matches."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,  # nosec B603 # our argv
                          cwd=cwd, check=False)
    if not done.returncode:
        return
    output = done.stderr + done.stdout
    found = re.search(missing, output)
    if found:
        raise ActionError("No wheel for the servers", f"{found.group(1)} has no wheel for {target.wanted}: pin "
                          "a version that publishes one, build and host the wheel in your index, or deploy "
                          "without a wheelhouse (the servers then need a package index).", anchor="artifact-delivery")
    raise ActionError("No wheel for the servers", f"{tool} for {target.wanted} failed: "
                      f"{_last_lines(output)}; fix the requirements file.", anchor="artifact-delivery")


def pin_for_servers(uv: str, requirements: Path, target: WheelTarget, pins: Path) -> Path:
    """``requirements`` resolved by uv for the servers' platform and Python, into ``pins``."""
    _run("uv pip compile", [uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--no-config",
                            "--only-binary", ":all:", "--python-version", target.python_version,
                            "--python-platform", UV_PLATFORMS[target.platform], *uv_index_args(dict(os.environ)),
                            str(requirements), "-o", str(pins)],
         requirements.parent, r"Because (\S+?) has no (?:usable )?wheels", target)
    return pins


def download_wheels(requirements: Path, dest: Path, target: WheelTarget) -> list[Path]:
    """The requirements as wheels for the servers, in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    uv = find_uv()
    pinned = pin_for_servers(uv, requirements, target, dest.parent / "pins.txt") if uv else None
    platforms = [arg for tag in target.platforms for arg in ("--platform", tag)]
    _run("pip download", [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input",
                          "--only-binary=:all:", *platforms, "--implementation", "cp", "--python-version",
                          target.python_version, *(["--no-deps"] if pinned else []),
                          "-r", str(pinned or requirements), "-d", str(dest)],
         requirements.parent, r"No matching distribution found for (\S+)", target)
    return sorted(dest.glob("*.whl"))
