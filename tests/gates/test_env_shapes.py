"""Projects that declare their test environment with Pipenv (Pipfile.lock, hashes) or pip-tools
(requirement files compiled from .in, with hashes): the tests gate installs what they declare and
gives the counts and coverage of the project's own run (pipenv sync --dev; pip install of the
compiled files), with uv and with pip (which checks every hash once one has hashes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssm_action.gates import projectenv
from tests.gates.conftest import SHAPES, by_name, gates_config, run_gates, tool_venv
from tests.gates.test_shapes import PIP, PYTEST, REPORT, Direct, counts, run_directly

CASES = {
    "pipenv-lock": (Direct((("{bin}/pipenv", "sync", "--dev"),), (*PYTEST, "--cov=pl_app", REPORT)),
                    {"passed": 1, "failed": 1}),
    "pip-tools": (Direct(((*PIP, "-r", "requirements/base.txt", "-r", "requirements/test.txt"),),
                         (*PYTEST, "--cov=pt_app", REPORT)), {"passed": 2}),
    # pluggy 1.0.0 and no pytest-cov locked: the pytest-cov the action adds must suit that pluggy
    "pipenv-old-pluggy": (Direct((("{bin}/pipenv", "sync", "--dev"),),
                                 ("{python}", "-m", "coverage", "run", "--source=op_app", "-m", "pytest", "-p",
                                  "no:cacheprovider"),
                                 after=(("{python}", "-m", "coverage", "json", "-o", "{json}"),)),
                          {"passed": 2}),
}


@pytest.fixture(scope="session")
def pipenv_bin() -> Path:
    return tool_venv(Path(__file__).resolve().parent / "direct-pipenv.txt", "direct-pipenv") / "bin"


@pytest.mark.parametrize("shape", sorted(CASES))
def test_the_declared_environment_is_installed_as_the_project_installs_it(shape, copy_project, pipenv_bin,
                                                                          tmp_path, monkeypatch):
    direct, expected = CASES[shape]
    gated = copy_project(SHAPES / shape, f"{shape}-gated")
    results = by_name(run_gates(gated, "uv", gates="tests, deps"))
    tests = results["tests"]
    assert counts(tests.log) == expected, (tests.outcome.message, tests.log)
    assert results["deps"].state == "passed", results["deps"].outcome.message
    monkeypatch.setenv("PIPENV_VERBOSITY", "-1")
    direct_counts, direct_coverage = run_directly(copy_project(SHAPES / shape, f"{shape}-direct"), direct,
                                                  pipenv_bin, tmp_path)
    assert direct_counts == expected
    assert tests.outcome.coverage == direct_coverage, tests.log
    with_pip = by_name(run_gates(copy_project(SHAPES / shape, f"{shape}-pip"), "pip", gates="tests"))["tests"]
    assert counts(with_pip.log) == expected, with_pip.log
    assert with_pip.outcome.coverage == direct_coverage


def test_a_lock_whose_hash_does_not_match_is_an_error_naming_the_package(copy_project):
    project = copy_project(SHAPES / "pipenv-lock", "pipenv-bad-hash")
    lock = project / "Pipfile.lock"
    text = lock.read_text()
    for wrong, digest in enumerate(("1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926",
                                    "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254")):
        text = text.replace(digest, str(wrong) * 64)  # six's, as if the lock were tampered with
    lock.write_text(text)
    results = by_name(run_gates(project, "pip", gates="tests, deps"))
    for name in ("tests", "deps"):
        assert results[name].state == "error", results[name].outcome.message
        assert "six" in results[name].outcome.message and "hash" in results[name].outcome.message.lower()


def test_deps_never_passes_over_an_environment_without_what_the_project_declares(copy_project):
    project = copy_project(SHAPES / "pipenv-lock", "pipenv-install-input")
    results = by_name(run_gates(project, "uv", gates="deps", install="pytest pytest-cov"))
    deps = results["deps"]
    assert deps.state == "failed", deps.outcome.message
    assert "1 declared requirement(s) not installed" in deps.outcome.message
    assert [(f.code, f.message.split(" but ")[0]) for f in deps.outcome.findings] == [
        ("six", "declared by Pipfile.lock")]


def test_a_runner_the_project_pins_against_its_pluggy_is_an_error_naming_the_package(copy_project):
    """The project chose pytest-cov 6.2.0 itself (beside pluggy 1.0.0, which it does not suit):
    the action keeps the project's choice, and pytest's crash is an error that names the package."""
    project = copy_project(SHAPES / "pipenv-old-pluggy", "pipenv-own-pytest-cov")
    lock = project / "Pipfile.lock"
    data = json.loads(lock.read_text())
    data["develop"]["pytest-cov"] = {"version": "==6.2.0"}
    lock.write_text(json.dumps(data))
    tests = by_name(run_gates(project, "uv", gates="tests"))["tests"]
    assert tests.state == "error", tests.outcome.message
    message = tests.outcome.message
    assert message.startswith("pytest crashed before running the tests: TypeError:"), message
    assert "(raised in pytest_cov)" in message and "pin a version" in message, message
    assert tests.outcome.coverage is None


RUNNER_CASES = [("pipenv-old-pluggy", "pytest-cov!=6.2.0"), ("pipenv-lock", "pytest-cov"),
                ("src-layout", "pytest-cov"), ("uv-lock", "pytest-cov!=6.2.0")]


@pytest.mark.parametrize(("shape", "pytest_cov"), RUNNER_CASES)
def test_the_runners_skip_a_release_that_needs_more_than_it_declares_unless_the_project_names_them(shape, pytest_cov):
    """pytest-cov 6.2.0 needs pluggy 1.2 without declaring it: skipped when the action chooses the
    version, kept when the project names pytest-cov (its lock or extra decides)."""
    requirements = projectenv.find_requirements(gates_config(SHAPES / shape))
    assert projectenv.runners(requirements) == ["pytest", pytest_cov]
