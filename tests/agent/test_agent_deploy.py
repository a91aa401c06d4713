"""The agent end to end: real git clones, venvs, app processes and HTTP health checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ssm_action.agent.git_source import STEPS
from ssm_action.agent.posix import PosixPlatform
from ssm_action.contract import ExitCode
from tests.agent.agent_fixtures import (ROLLBACK_WAIT, Server, agent_zipapp, backup_manifest, build_wheel, git,
                                        run_agent)

PY38 = next((p for p in ("/root/.pyenv/versions/3.8.18/bin/python", shutil.which("python3.8") or "")
             if p and os.path.exists(p)), "")
RESULT_KEYS = {
    "status", "deploy_id", "target_sha", "previous_sha", "running_sha", "backup_path",
    "health_code", "health", "rolled_back", "pid", "steps", "log_file", "error",
    "discarded_changes", "python", "action", "since", "last_deploy", "lock", "warnings",
}


def alive(pid: int) -> bool:
    return PosixPlatform().alive(pid)


def test_first_deploy_then_a_newer_commit(server: Server):
    v1 = server.commit("v1")
    first = server.deploy(v1)
    assert first.code == ExitCode.OK, first.out + first.err
    assert first.err == ""
    result = first.result
    assert set(result) == RESULT_KEYS
    assert result["status"] == "success" and result["previous_sha"] is None
    assert result["running_sha"] == v1 and result["health"] == "healthy"
    assert result["health_code"] == 200 and result["backup_path"] is None
    assert [s["name"] for s in result["steps"]] == list(STEPS)
    assert Path(result["log_file"]).is_file()
    assert server.get() == (200, "v1 tinydep-1.0")

    v2 = server.commit("v2", files={"static/new.txt": "new file"})
    second = server.deploy(v2)
    assert second.code == ExitCode.OK, second.out
    result = second.result
    assert (result["previous_sha"], result["running_sha"]) == (v1, v2)
    assert server.get() == (200, "v2 tinydep-1.0")
    assert server.head() == v2
    assert not alive(first.result["pid"]) and alive(result["pid"])
    assert server.state("last-good.json")["sha"] == v2
    # The backup holds the previous files and names their commit, without git or the venv.
    with zipfile.ZipFile(result["backup_path"]) as archive:
        names = archive.namelist()
        assert "v1" in archive.read("app.py").decode()
    assert backup_manifest(result["backup_path"])["head"] == v1
    assert not [n for n in names if n.startswith((".git/", ".venv/"))]
    assert len(second.out) < 24000


def test_unhealthy_commit_rolls_back_to_the_old_version(server: Server):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    v2 = server.commit("v2", status=503)
    run = server.deploy(v2, health_timeout=ROLLBACK_WAIT)
    assert run.code == ExitCode.ROLLED_BACK, run.out
    result = run.result
    assert result["status"] == "rolled_back" and result["rolled_back"] is True
    assert (result["target_sha"], result["previous_sha"], result["running_sha"]) == (v2, v1, v1)
    assert "answered 503" in result["error"]
    assert result["health"] == "healthy"
    assert server.get() == (200, "v1 tinydep-1.0")
    assert server.head() == v1
    assert server.state("last-good.json")["sha"] == v1


def test_rollback_reinstalls_changed_requirements(server: Server, tmp_path: Path):
    assert server.deploy(server.commit("v1")).code == ExitCode.OK
    newer = build_wheel(tmp_path, version="2.0").as_uri()
    v2 = server.commit("v2", requirements=f"tinydep @ {newer}\n")
    assert server.deploy(v2).code == ExitCode.OK
    assert server.get() == (200, "v2 tinydep-2.0")
    v3 = server.commit("v3", status=500, requirements=f"tinydep @ {server.wheel_url}\n")
    run = server.deploy(v3, health_timeout=ROLLBACK_WAIT)
    assert run.code == ExitCode.ROLLED_BACK, run.out
    assert any(line.startswith("rollback-deps") and "uv install -r requirements.txt" in line
               for line in run.out.splitlines())
    assert server.get() == (200, "v2 tinydep-2.0")  # v3 had installed tinydep 1.0


def test_commit_that_crashes_at_start_rolls_back(server: Server):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    v2 = server.commit("v2", crash=True)
    run = server.deploy(v2)
    assert run.code == ExitCode.ROLLED_BACK, run.out
    assert "exited with code 1" in run.result["error"]
    assert "boom: v2 cannot start" in run.result["error"]  # the app's own last words
    assert server.get() == (200, "v1 tinydep-1.0")


def test_rollback_without_git_history_restores_the_backup(server: Server):
    assert server.deploy(server.commit("v1")).code == ExitCode.OK
    # The history is rewritten (a force push) and the clone is re-created: v1 is gone.
    git(server.origin, "checkout", "-q", "--orphan", "rewritten")
    v2 = server.commit("v2", status=500)
    git(server.origin, "branch", "-M", "main")
    shutil.rmtree(server.app_dir / ".git")
    git(server.app_dir, "init", "-q")
    run = server.deploy(v2, health_timeout=ROLLBACK_WAIT)
    assert run.code == ExitCode.ROLLED_BACK, run.out
    assert "restored every file from %s" % run.result["backup_path"] in run.out
    assert server.get() == (200, "v1 tinydep-1.0")


def test_failed_rollback_exits_1(server: Server, tmp_path: Path):
    flag = tmp_path / "flag"
    flag.touch()
    needs_flag = f"if not os.path.exists({str(flag)!r}):\n    raise SystemExit('no flag')"
    assert server.deploy(server.commit("v1", prelude=needs_flag)).code == ExitCode.OK
    flag.unlink()  # the previous version cannot start any more either
    run = server.deploy(server.commit("v2", crash=True))
    assert run.code == ExitCode.FAILED, run.out
    assert run.result["status"] == "failed" and run.result["rolled_back"] is False
    assert "; rollback failed: the app" in run.result["error"]
    assert "no flag" in run.result["error"]


def test_crash_without_rollback_reports_failure(server: Server):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    run = server.deploy(server.commit("v2", crash=True), rollback_on_failure=False)
    assert run.code == ExitCode.FAILED, run.out
    assert run.result["status"] == "failed" and run.result["rolled_back"] is False
    assert "rollback is off" in run.result["error"]
    assert run.result["running_sha"] is None and server.get() is None


def test_pip_install_failure_keeps_the_old_app_running(server: Server, tmp_path: Path):
    v1 = server.commit("v1")
    assert server.deploy(v1, installer="uv").code == ExitCode.OK
    # pip into the venv uv made (it has no pip): ensurepip first, then the install.
    first = server.deploy(v1, installer="pip")
    assert first.code == ExitCode.OK, first.out
    assert "venv ok; pip install -r requirements.txt" in first.out
    missing = (tmp_path / "missing-1.0-py3-none-any.whl").as_uri()
    v2 = server.commit("v2", requirements=f"missing @ {missing}\n")
    run = server.deploy(v2, installer="pip")
    assert run.code == ExitCode.ROLLED_BACK, run.out
    assert run.result["error"].startswith("deps: installing requirements.txt failed")
    assert run.result["pid"] == first.result["pid"]  # never stopped
    assert server.get() == (200, "v1 tinydep-1.0")
    assert server.head() == v1
    # The full pip output is in the log file, not on stdout.
    assert "missing-1.0-py3-none-any.whl" in Path(run.result["log_file"]).read_text()


def test_failing_pre_stop_hook_aborts_before_the_app_is_touched(server: Server):
    v1 = server.commit("v1")
    first = server.deploy(v1)
    hook = "import sys\nprint('cannot drain')\nsys.exit(3)\n"
    v2 = server.commit("v2", files={"deploy/hooks/pre-stop.py": hook})
    run = server.deploy(v2)
    assert run.code == ExitCode.ROLLED_BACK, run.out
    assert "pre-stop.py failed (exit 3); the app was not touched" in run.result["error"]
    assert run.result["pid"] == first.result["pid"]
    assert server.get() == (200, "v1 tinydep-1.0")
    assert "    cannot drain" in run.out  # the hook's last words
    # (a hook printing an app secret: tests/agent/test_app_deploy.py)


def test_hooks_see_the_deploy_environment(server: Server, tmp_path: Path):
    marker = tmp_path / "post-start.txt"
    hook = f'echo "$DEPLOY_PHASE $DEPLOY_SHA $DEPLOY_PREVIOUS_SHA" > "{marker}"\n'
    v1 = server.commit("v1", files={"deploy/hooks/post-start.sh": hook})
    run = server.deploy(v1)
    assert run.code == ExitCode.OK, run.out
    assert marker.read_text().split() == ["post-start", v1]
    assert "ran post-start.sh" in run.out


def test_local_changes_are_discarded_reported_and_restored_by_rollback(server: Server):
    v1 = server.commit("v1", files={"config.txt": "origin\n"})
    assert server.deploy(v1).code == ExitCode.OK
    (server.app_dir / "config.txt").write_text("edited on the server\n")
    (server.app_dir / "notes.txt").write_text("untracked, kept\n")
    (server.app_dir / "extra.txt").write_text("untracked, in the way\n")
    v2 = server.commit("v2", status=500, files={"extra.txt": "from v2\n"})
    run = server.deploy(v2, health_timeout=ROLLBACK_WAIT)
    assert run.code == ExitCode.ROLLED_BACK, run.out
    assert run.result["discarded_changes"] == ["config.txt", "extra.txt"]
    assert (server.app_dir / "config.txt").read_text() == "edited on the server\n"
    assert (server.app_dir / "extra.txt").read_text() == "untracked, in the way\n"
    assert (server.app_dir / "notes.txt").exists()

    v3 = server.commit("v3")
    run = server.deploy(v3)
    assert run.code == ExitCode.OK, run.out
    assert run.result["discarded_changes"] == ["config.txt", "extra.txt"]
    assert (server.app_dir / "config.txt").read_text() == "origin\n"
    assert (server.app_dir / "extra.txt").read_text() == "from v2\n"
    assert "discarded 2 local change(s): config.txt, extra.txt" in run.out


def test_two_deploys_at_once_one_is_refused(server: Server, tmp_path: Path):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    release = tmp_path / "release"
    hook = (f"import os, time\nfor _ in range(600):\n    if os.path.exists({str(release)!r}):"
            "\n        break\n    time.sleep(0.05)\n")
    v2 = server.commit("v2", files={"deploy/hooks/pre-stop.py": hook})
    params = server.params(v2)
    params_file = tmp_path / "first.json"
    params_file.write_text(json.dumps(params))
    first = subprocess.Popen([sys.executable, str(agent_zipapp()), "--params-file",
                              str(params_file)], stdout=subprocess.PIPE, text=True,
                             env=server.env)
    try:
        for line in first.stdout:
            if line.startswith("deps "):  # the first deploy holds the lock, in its hook
                break
        second = server.deploy(v2)
        assert second.code == ExitCode.BUSY, second.out
        assert second.result["status"] == "busy"
        assert "another deploy (%s, pid %d" % (params["deploy_id"], first.pid) in (
            second.result["error"])
    finally:
        release.touch()
        rest = first.communicate(timeout=60)[0]
    assert first.returncode == ExitCode.OK, rest
    assert server.get() == (200, "v2 tinydep-1.0")


def test_an_app_ignoring_sigterm_is_killed_after_stop_timeout(server: Server):
    stubborn = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)"
    first = server.deploy(server.commit("v1", prelude=stubborn))
    assert first.code == ExitCode.OK, first.out
    run = server.deploy(server.commit("v2"), stop_timeout=0.5)
    assert run.code == ExitCode.OK, run.out
    assert "stopped pid %d (forced)" % first.result["pid"] in run.out
    stop = next(s for s in run.result["steps"] if s["name"] == "stop")
    assert stop["seconds"] >= 0.5
    assert server.get() == (200, "v2 tinydep-1.0")


def test_stale_locks_are_taken_over(server: Server):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = Path(f"{server.app_dir}.deploy")
    (state / "lock-owner.json").write_text(json.dumps({"pid": dead.pid, "deploy_id": "old-1"}))
    (server.app_dir / ".git" / "index.lock").touch()  # as a killed git leaves it
    run = server.deploy(server.commit("v2"))
    assert run.code == ExitCode.OK, run.out
    assert "took over a stale lock: deploy old-1 (pid %d) is gone" % dead.pid in run.out
    assert not (state / "lock-owner.json").exists()


def test_stop_trusts_the_command_line_not_the_pid_file(server: Server):
    first = server.deploy(server.commit("v1"))
    assert first.code == ExitCode.OK
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        app = server.state("app.json")
        app["pid"] = stranger.pid  # a reused PID: must not be killed
        (Path(f"{server.app_dir}.deploy") / "app.json").write_text(json.dumps(app))
        run = server.deploy(server.commit("v2"))
        assert run.code == ExitCode.OK, run.out
        assert stranger.poll() is None
        assert "pid %d in the PID file is not our app: left alone" % stranger.pid in run.out
        # The real app (found by its command line) was stopped and replaced.
        assert "stopped pid %d" % first.result["pid"] in run.out
        assert not alive(first.result["pid"])
        assert server.get() == (200, "v2 tinydep-1.0")
    finally:
        stranger.kill()
        stranger.wait()


def test_commit_missing_from_the_remote_changes_nothing(server: Server):
    v1 = server.commit("v1")
    assert server.deploy(v1).code == ExitCode.OK
    run = server.deploy("0" * 40)
    assert run.code == ExitCode.FAILED, run.out
    assert "is not in" in run.result["error"] and "nothing was changed" in run.result["error"]
    assert server.get() == (200, "v1 tinydep-1.0")


def test_invalid_parameters_exit_4(server: Server):
    params = server.params("not-a-sha", surprise=1)
    del params["app_dir"]
    run = run_agent(params, server.env)
    assert run.code == ExitCode.BAD_PARAMS
    assert run.result["status"] == "invalid"
    assert "unknown parameter 'surprise'" in run.result["error"]
    assert "app_dir is required" in run.result["error"]
    assert not server.app_dir.exists()


@pytest.mark.skipif(not PY38, reason="no Python 3.8 (pyenv 3.8.18 or python3.8 on PATH)")
def test_agent_under_python_3_8(server: Server):
    v1 = server.commit("v1")
    first = server.deploy(v1, python=PY38, b64=True)
    assert first.code == ExitCode.OK, first.out + first.err
    assert first.result["python"].startswith("3.8.")
    assert server.get() == (200, "v1 tinydep-1.0")
    run = server.deploy(server.commit("v2", status=500), python=PY38, health_timeout=ROLLBACK_WAIT)
    assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
    assert run.err == ""
    assert server.get() == (200, "v1 tinydep-1.0")
