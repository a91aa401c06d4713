"""The project environment: cache key, warm reuse, damage detection, uv and pip alike."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ssm_action.gates import projectenv, tools
from ssm_action.gates.base import GateContext
from ssm_action.gates.model import FAILED, PASSED
from ssm_action.gates.process import GateLog
from ssm_action.gates.project import deps
from tests.gates.conftest import FIXTURES, by_name, gates_config, run_gates

PYPROJECT = """[project]
name = "demo"
version = "1.0"
dependencies = ["bottle==0.13.4"]

[project.optional-dependencies]
test = ["pytest"]

[tool.black]
line-length = 100
"""


def _key(project: Path) -> str:
    return projectenv.cache_key(projectenv.find_requirements(gates_config(project)))


def _prepare(project: Path, installer: str | None = None) -> tuple[projectenv.ProjectEnv, GateLog]:
    log = GateLog(600)
    return projectenv.prepare(gates_config(project), log, installer), log


def test_cache_key_follows_every_requirement_file_and_nothing_else(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r base.txt\nbottle==0.13.4  # web\n--constraint=pins.txt\n")
    (tmp_path / "base.txt").write_text("six\n")
    (tmp_path / "pins.txt").write_text("six<2\n")
    (tmp_path / "app.py").write_text("VALUE = 1\n")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    keys = [_key(tmp_path)]
    assert keys[0].startswith("ssm-gates-linux-")
    (tmp_path / "app.py").write_text("VALUE = 2\n")  # code, not requirements
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.replace("line-length = 100", "line-length = 90"))
    (tmp_path / "requirements.txt").touch()
    assert _key(tmp_path) == keys[0]
    for name, text in [("requirements.txt", "-r base.txt\nbottle==0.13.3\n--constraint=pins.txt\n"),
                       ("base.txt", "six==1.17.0\n"), ("pins.txt", "six<3\n"),
                       ("requirements-dev.txt", "pytest\n"),
                       ("pyproject.toml", PYPROJECT.replace('["pytest"]', '["pytest", "pytest-cov"]'))]:
        (tmp_path / name).write_text(text)
        keys.append(_key(tmp_path))
    assert len(set(keys)) == len(keys)


def test_a_warm_run_reuses_the_environment_without_installing(tmp_path):
    (tmp_path / "requirements.txt").write_text("bottle==0.13.4\n")
    cold, cold_log = _prepare(tmp_path)
    warm, warm_log = _prepare(tmp_path)
    assert (cold.reused, warm.reused) == (False, True)
    assert " pip install " in cold_log.text and " install " not in warm_log.text
    assert warm.path == cold.path


@pytest.mark.parametrize("damage", ["lost file", "no python", "unfinished build"])
def test_a_damaged_cached_environment_is_rebuilt(tmp_path, damage):
    (tmp_path / "requirements.txt").write_text("bottle==0.13.4\n")
    env, _ = _prepare(tmp_path)
    if damage == "lost file":
        (env.site_packages / "bottle.py").unlink()
    elif damage == "no python":
        (env.path / "bin" / "python").unlink()
    else:
        env.marker.unlink()
    rebuilt, log = _prepare(tmp_path)
    assert not rebuilt.reused
    assert "Building the project environment" in log.text
    assert subprocess.run([str(rebuilt.python), "-c", "import bottle"]).returncode == 0


def test_a_changed_requirement_never_reuses_the_old_environment(tmp_path):
    (tmp_path / "requirements.txt").write_text("bottle==0.13.4\n")
    old, _ = _prepare(tmp_path)
    (tmp_path / "requirements.txt").write_text("bottle==0.13.3\n")
    new, _ = _prepare(tmp_path)
    assert new.key != old.key and not new.reused
    assert not old.path.exists()  # pruned: the persisted cache does not grow
    version = subprocess.run([str(new.python), "-c", "import bottle; print(bottle.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    assert version == "0.13.3"


def test_a_pyproject_project_is_installed_with_its_test_extra(tmp_path, osv_url):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "demo.py").write_text('"""Demo."""\n')
    results = by_name(run_gates(tmp_path, gates="pip-audit, smoke, deps", smoke_imports="demo, bottle, pytest",
                                pip_audit_args=f"-s osv --osv-url {osv_url}"))
    assert {name: r.state for name, r in results.items()} == {"pip-audit": PASSED, "smoke": PASSED, "deps": PASSED}


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_deps_finds_a_broken_requirement(tmp_path, installer):
    (tmp_path / "requirements.txt").write_text("pytest\n")
    env, log = _prepare(tmp_path, installer)
    subprocess.run([tools.uv() or "uv", "pip", "uninstall", "-q", "--python", str(env.python), "pluggy"], check=True)
    ctx = GateContext(gates_config(tmp_path), log, tmp_path, tmp_path, "", (), env)
    outcome = deps(ctx)
    assert outcome.state == FAILED
    assert sorted((f.code.lower(), "pluggy" in f.message) for f in outcome.findings) == [
        ("pytest", True), ("pytest-cov", True)]


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_an_unsatisfiable_requirement_is_reported_alike(tmp_path, installer):
    (tmp_path / "requirements.txt").write_text("ssm-action-no-such-package-0f3a==1.0\n")
    with pytest.raises(projectenv.EnvError) as raised:
        _prepare(tmp_path, installer)
    assert raised.value.conflict
    assert "ssm-action-no-such-package-0f3a" in str(raised.value)
    assert f"{installer} could not install the project's requirements: " in str(raised.value)


def test_uv_and_pip_give_the_same_versions_states_and_findings(copy_project, bad_run, osv_url):
    project = copy_project(FIXTURES / "bad-app", "bad-app-pip")
    with_pip = run_gates(project, installer="pip", pip_audit_args=f"-s osv --osv-url {osv_url}",
                         smoke_imports="app, broken", required_env="BAD_APP_UNSET_VARIABLE")
    assert with_pip.env.project.installer == "pip" and bad_run.env.project.installer == "uv"

    def summary(run):
        return {r.name: (r.state, sorted((f.path, f.line, f.code) for f in r.outcome.findings))
                for r in run.results}
    assert summary(with_pip) == summary(bad_run)

    def versions(run):
        packaging = {"pip", "setuptools", "wheel"}  # what python -m venv adds on its own
        return [d for d in projectenv._distributions(run.env.project.site_packages)
                if d.split("-")[0].lower() not in packaging]
    assert versions(with_pip) == versions(bad_run)


def test_the_cache_holds_the_installers_downloads(tmp_path, monkeypatch):
    monkeypatch.delenv("UV_CACHE_DIR")
    (tmp_path / "requirements.txt").write_text("bottle==0.13.4\n")
    _prepare(tmp_path)
    assert (tmp_path / ".ssm-action-cache" / "uv").is_dir()
