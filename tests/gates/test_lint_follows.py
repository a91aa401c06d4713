"""Lint follows the project: flake8 at its formatter's line length when it configures black and
not flake8, generated code left out, bandit's assert rule off in tests, and ruff, flake8 and its
plugins at the versions the project pins in a requirement file. Each default is said."""

from __future__ import annotations

import json
import subprocess

from ssm_action.gates import tools
from tests.gates.conftest import SHAPES, by_name, run_gates


def test_a_black_project_is_judged_at_blacks_length_without_its_migrations(copy_project):
    results = by_name(run_gates(copy_project(SHAPES / "black-django"), gates="flake8, bandit"))
    flake8 = results["flake8"]
    assert flake8.state == "passed", [(f.path, f.code) for f in flake8.outcome.findings]
    assert "88 columns with E203, W503 ignored, as the project's formatter [tool.black] formats" in \
        flake8.outcome.message
    assert "2 generated module(s) left out (Django migrations, *_pb2.py; flake8-args replaces" in \
        flake8.outcome.message
    bandit = results["bandit"]
    assert [(f.path, f.code) for f in bandit.outcome.findings] == [("shop/__init__.py", "B101")], bandit.log
    assert "assert (B101) allowed in tests, as the project has no bandit config" in bandit.outcome.message


def test_an_args_input_replaces_the_defaults(copy_project):
    results = by_name(run_gates(copy_project(SHAPES / "black-django"), gates="flake8, bandit",
                                flake8_args="--max-line-length=88", bandit_args="--severity-level=low"))
    flagged = {f.path for f in results["flake8"].outcome.findings}
    assert flagged == {"shop/__init__.py", "shop/migrations/0001_initial.py"}
    assert sorted(f.path for f in results["bandit"].outcome.findings) == ["shop/__init__.py", "tests/test_shop.py"]
    assert "columns" not in results["flake8"].outcome.message


def test_the_linters_the_project_pins_in_a_requirement_file_run(copy_project):
    project = copy_project(SHAPES / "lint-pins")
    results = by_name(run_gates(project, gates="ruff, flake8"))
    ruff = results["ruff"]
    assert "ruff 0.1.15, as the project's requirements-dev.txt pins it" in ruff.outcome.message
    uv = tools.uv() or "uv"
    direct = subprocess.run([uv, "tool", "run", "--quiet", "--from", "ruff==0.1.15", "ruff", "check", "--no-cache",
                             "--output-format", "json", "."], cwd=project, text=True, capture_output=True, check=False)
    assert sorted(f["code"] for f in json.loads(direct.stdout)) == sorted(f.code for f in ruff.outcome.findings)
    flake8 = results["flake8"]
    assert "flake8 7.1.1 with flake8-bugbear==24.2.6, as the project pins it in requirements-dev.txt" in \
        flake8.outcome.message
    assert {"B006", "F401"} <= {f.code for f in flake8.outcome.findings}, flake8.log
