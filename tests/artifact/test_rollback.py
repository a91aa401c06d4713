"""A failure after the switch: the previous release comes back by switching the link, with its
venv still installed (no reinstall, no index); a git clone found in app_dir is what comes back
on the first deploy from an artifact. The artifact store can also be a local folder."""

from __future__ import annotations

import os
import subprocess
import sys

from ssm_action.agent.links import Links
from ssm_action.agent.releases import Releases
from tests.agent.agent_fixtures import APP_TEMPLATE
from tests.artifact.artifact_fixtures import Target, wait_for


def test_a_failed_version_is_switched_back_without_a_reinstall(target: Target, versions, publish):
    v1, v2 = versions
    assert target.deliver(v1.commit, publish(v1)).code == 0
    releases = Releases(str(target.app_dir), Links())
    old = releases.current()
    venv_before = os.stat(target.app_dir / ".venv" / "pyvenv.cfg").st_mtime_ns
    run = target.deliver(v2.commit, publish(v2), "--fail-after-switch")
    assert run.code == 2, run.out + run.err
    assert run.detail("switch-back").endswith(f"-> {old} (was {run.detail('switch').split()[2]}); no reinstall")
    assert releases.current() == old
    assert os.stat(target.app_dir / ".venv" / "pyvenv.cfg").st_mtime_ns == venv_before
    target.start_app()  # the old venv still works: nothing was installed again
    assert wait_for(target, "v1 tinydep-1.0") == (200, "v1 tinydep-1.0")


def test_the_first_artifact_deploy_adopts_the_git_clone_and_can_go_back_to_it(target: Target, versions,
                                                                              publish):
    clone = target.app_dir
    clone.mkdir(parents=True)
    (clone / "app.py").write_text(APP_TEMPLATE.format(version="git", status=200, prelude=""))
    (clone / ".env").write_text("SECRET=kept")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(clone / ".venv")], check=True)
    v1 = versions[0]
    run = target.deliver(v1.commit, publish(v1), "--fail-after-switch")
    assert run.code == 2, run.out + run.err
    assert "moved the git clone aside as release" in run.detail("switch")
    assert (clone / ".env").read_text() == "SECRET=kept" and "'git'" in (clone / "app.py").read_text()
    rerun = target.deliver(v1.commit, publish(v1))
    assert rerun.code == 0, rerun.out + rerun.err
    assert (clone / ".env").read_text() == "SECRET=kept" and "'v1'" in (clone / "app.py").read_text()
    assert rerun.detail("unpack").endswith("; 1 server-local file(s) carried over")


def test_a_local_folder_is_an_artifact_store(target: Target, versions):
    v1 = versions[0]
    run = target.deliver(v1.commit, {"url": str(v1.path), "sha256": v1.sha256, "size": v1.size})
    assert run.code == 0, run.out + run.err
    assert run.detail("download").endswith(f"from {v1.path}")
    target.start_app()
    assert wait_for(target, "v1 tinydep-1.0") == (200, "v1 tinydep-1.0")
