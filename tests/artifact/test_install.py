"""The release's venv from the wheelhouse with the package index pointed at a closed port:
pip and uv install offline; without a wheelhouse the install fails clearly, before the switch
(so before the app would be stopped), and the running version keeps serving. Python 3.8 too."""

from __future__ import annotations

import pytest

from ssm_action.agent.links import Links
from ssm_action.agent.releases import Releases
from tests.artifact.artifact_fixtures import PY38, Project, Target, wait_for


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_installs_from_the_wheelhouse_with_no_index_reachable(target: Target, versions, publish, installer):
    v1 = versions[0]
    run = target.deliver(v1.commit, publish(v1), installer=installer)
    assert run.code == 0, run.out + run.err
    tool = "uv pip" if installer == "uv" else "pip"
    assert run.detail("install").endswith(f"{tool} install -r requirements.txt from 1 wheel(s), no index")
    target.start_app()
    assert wait_for(target, "v1 tinydep-1.0") == (200, "v1 tinydep-1.0")


def test_without_a_wheelhouse_the_install_fails_before_the_switch(
        target: Target, versions, publish, pack, project: Project):
    v1 = versions[0]
    assert target.deliver(v1.commit, publish(v1), installer="pip").code == 0
    target.start_app()
    assert wait_for(target, "v1 tinydep-1.0") == (200, "v1 tinydep-1.0")
    bare = pack(project.commit("v2"), wheelhouse=False)
    run = target.deliver(bare.commit, publish(bare), installer="pip")
    assert run.code == 1 and "switch begins" not in run.out
    failed = [line for line in run.out.splitlines() if line.startswith("install FAILED")]
    assert failed == ["install FAILED installing requirements.txt failed (exit 1): ERROR: No matching distribution "
                      "found for tinydep==1.0; the artifact has no wheelhouse, so this server needs a package "
                      "index: make one reachable or deploy with a wheelhouse; the app was not stopped"]
    releases = Releases(str(target.app_dir), Links())
    assert releases.current() == releases.rollback_target() and target.get() == (200, "v1 tinydep-1.0")


def test_a_wheelhouse_for_another_python_is_refused_before_installing(
        target: Target, pack, project: Project, publish):
    art = pack(project.commit("v1"), python="3.8")
    run = target.deliver(art.commit, publish(art), installer="uv")
    assert run.code == 1 and "switch begins" not in run.out
    assert "the wheelhouse was built for Python 3.8 but this server's venv runs 3.11" in run.out


def test_a_python_3_8_server_delivers_and_runs(target: Target, pack, project: Project, publish):
    art = pack(project.commit("v38"), python="3.8")
    run = target.deliver(art.commit, publish(art), python=PY38, installer="pip")
    assert run.code == 0, run.out + run.err
    assert "venv created (python 3.8." in run.detail("install")
    target.start_app()
    assert wait_for(target, "v38 tinydep-1.0") == (200, "v38 tinydep-1.0")
