"""Each shape of project (how it declares its dependencies and its coverage): the tests
gate gives the same pass/fail counts and coverage (to 0.1) as the tools run directly,
the way that project's own CI runs them (pip, uv sync, poetry, tox)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ssm_action.gates import tools
from tests.gates.conftest import SHAPES, by_name, run_gates

SUMMARY = re.compile(r"^=+ (.*?) in [\d.]+s(?: \([\d:]+\))? =+$")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)")
REPORT = "--cov-report=json:{json}"


@dataclass(frozen=True)
class Direct:
    """How the project's own CI runs its tests: setup commands, then the test command.
    {python} is a fresh venv's Python, {venv} its folder, {json} the coverage report."""

    setup: tuple[tuple[str, ...], ...]
    test: tuple[str, ...]


PIP = ("{python}", "-m", "pip", "install", "-q")
PYTEST = ("{python}", "-m", "pytest", "-p", "no:cacheprovider")
SHAPE_CASES = {
    # shape: (how its CI runs, the counts both must give)
    "setup-py": (Direct(((*PIP, "-e", ".[test]", "pytest", "pytest-cov"),), (*PYTEST, "--cov=sp_pkg", REPORT)),
                 {"passed": 2}),
    "setup-cfg": (Direct(((*PIP, "-e", ".[testing]", "pytest", "pytest-cov"),), (*PYTEST, "--cov=sc_pkg", REPORT)),
                  {"passed": 2, "failed": 1}),
    "poetry": (Direct((("{bin}/poetry", "install", "--with", "test", "--no-interaction"),),
                      (*PYTEST, "--cov=po_pkg", REPORT)), {"passed": 1}),
    "pep735": (Direct((("{uv}", "sync", "--group", "test"),), (*PYTEST, "--cov=pg_pkg", REPORT)), {"passed": 3}),
    "hatch-extras": (Direct(((*PIP, "-e", ".[testing]"),), (*PYTEST, "--cov=hx_pkg", REPORT)), {"passed": 1}),
    "tox-cov": (Direct((), ("{bin}/tox", "-q", "-e", "py", "--", REPORT)), {"passed": 1}),
    "coveragerc": (Direct(((*PIP, "-r", "requirements.txt", "pytest", "pytest-cov"),), (*PYTEST, "--cov", REPORT)),
                   {"passed": 1}),
    "src-layout": (Direct(((*PIP, "-e", ".[test]"),), (*PYTEST, "--cov=sl_pkg", REPORT)), {"passed": 1}),
    "uv-lock": (Direct((("{uv}", "sync", "--frozen"),
                        ("{uv}", "pip", "install", "--python", "{python}", "pytest", "pytest-cov")),
                       (*PYTEST, "--cov=ul_pkg", REPORT)), {"passed": 1}),
    "ruff-project": (Direct(((*PIP, "-e", ".[dev]"),), (*PYTEST, "--cov=rf_pkg", REPORT)), {"passed": 1}),
}


def counts(output: str) -> dict[str, int]:
    """pytest's final line (=== 2 passed, 1 failed in 0.1s ===) as numbers."""
    lines = [SUMMARY.match(line.strip()) for line in output.splitlines()]
    last = [match.group(1) for match in lines if match][-1]
    return {("error" if kind.startswith("error") else kind): int(n) for n, kind in COUNT.findall(last)}


def run_directly(project: Path, direct: Direct, bin_dir: Path, tmp_path: Path) -> tuple[dict[str, int], float]:
    venv, report = tmp_path / "direct-venv", tmp_path / "direct-coverage.json"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    values = {"python": str(venv / "bin" / "python"), "venv": str(venv), "json": str(report),
              "uv": tools.uv() or "uv", "bin": str(bin_dir)}
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(VIRTUAL_ENV=str(venv), UV_PROJECT_ENVIRONMENT=str(venv), PATH=f"{venv / 'bin'}:{env['PATH']}",
               POETRY_VIRTUALENVS_CREATE="false", PIP_DISABLE_PIP_VERSION_CHECK="1")
    for step in direct.setup:
        done = subprocess.run([part.format(**values) for part in step], cwd=project, env=env, text=True,
                              capture_output=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([part.format(**values) for part in direct.test], cwd=project, env=env, text=True,
                          capture_output=True, timeout=600)
    coverage = json.loads(report.read_text())["totals"]["percent_covered"]
    return counts(done.stdout), round(coverage, 1)


@pytest.mark.parametrize("shape", sorted(SHAPE_CASES))
def test_the_tests_gate_agrees_with_the_projects_own_run(shape, copy_project, direct_tools, tmp_path):
    direct, expected = SHAPE_CASES[shape]
    gated = copy_project(SHAPES / shape, f"{shape}-gated")
    result = by_name(run_gates(gated, gates="tests"))["tests"]
    assert counts(result.log) == expected, (result.outcome.message, result.log)
    direct_counts, direct_coverage = run_directly(copy_project(SHAPES / shape, f"{shape}-direct"), direct,
                                                  direct_tools, tmp_path)
    assert direct_counts == expected
    assert result.outcome.coverage == direct_coverage, result.log
    assert result.state == ("failed" if expected.get("failed") else "passed"), result.outcome.message
