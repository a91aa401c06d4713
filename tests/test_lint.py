"""The action's own code, metadata and image recipe pass their linters (all offline)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_flake8():
    done = run(tool("flake8"), "ssm_action", "entrypoint.py", "post_entrypoint.py", "tests", "scripts", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_bandit():
    done = run(tool("bandit"), "-q", "-r", "ssm_action", "entrypoint.py", "post_entrypoint.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_action_yml_matches_githubs_schema():
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", "action.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_passes_hadolint():
    done = run(tool("hadolint"), "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts").iterdir()
                                          if p.suffix == ".sh" or p.read_text().startswith("#!/usr/bin/env bash")))
def test_scripts_pass_shellcheck(script):
    done = run(tool("shellcheck"), "-x", f"scripts/{script}")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_no_error():
    """Type hints are checked (setup.cfg [mypy]: the package, the entrypoints and the scripts)."""
    done = run(tool("mypy"))
    assert done.returncode == 0, done.stdout + done.stderr
