"""The real agent on a real Windows CPython under Wine: deploys, rollbacks, failures, recovery.

Runs in one Wine prefix with the stand-ins of tests/windows/standins (checked before any
test): git.exe bridges to Linux git. Processes are listed and ended by the agent through the
Windows API, for real. Health is checked from Linux over 127.0.0.1.
"""

from __future__ import annotations

import json
import zipfile

from ssm_action.contract import ExitCode
from tests.windows.winapp import WINDOWS, APP_DIR, BACKUP_DIR, ROLLBACK_WAIT, STOP_MARKER, WinApp

STEPS = ["lock", "secrets", "record", "backup", "sync", "deps", "pre-stop", "stop", "start", "verify",
         "post-start"]

pytestmark = WINDOWS


def step_line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == [name])


def test_first_deploy_then_redeploy_stops_the_launcher_and_its_child(app: WinApp):
    v1 = app.commit("v1", files={"static/index.txt": "v1 page\n"})
    first = app.deploy(v1)
    assert first.code == ExitCode.OK, first.out + first.err
    result = first.result
    assert result["status"] == "success" and result["python"] == "3.13.2"
    assert result["running_sha"] == v1 and result["health_code"] == 200
    assert [s["name"] for s in result["steps"]] == STEPS
    assert result["log_file"].startswith(APP_DIR + ".deploy\\logs\\")
    assert app.get() == (200, "v1 tinydep-1.0")
    # The app runs on the venv's pythonw.exe: a launcher and the base interpreter, two processes.
    assert "C:\\srv\\app\\.venv\\Scripts\\pythonw.exe C:\\srv\\app\\app.py" in step_line(
        first.out, "start")
    assert len(app.app_processes()) == 2
    cfg = (app.app_dir / ".venv" / "pyvenv.cfg").read_text()
    assert "home = C:\\Program Files\\Python313" in cfg

    v2 = app.commit("v2")
    second = app.deploy(v2)
    assert second.code == ExitCode.OK, second.out + second.err
    assert (second.result["previous_sha"], second.result["running_sha"]) == (v1, v2)
    assert app.get() == (200, "v2 tinydep-1.0")
    # The pair is one app: one pid (the launcher's) stopped, gracefully by the stop request.
    stop = step_line(second.out, "stop")
    assert stop.endswith("stopped pid %d" % result["pid"]), stop
    assert app.path(STOP_MARKER % "v1").exists()
    assert second.result["pid"] == app.state("app.json")["pid"] != result["pid"]
    assert len(app.app_processes()) == 2  # the new pair only
    # The backup: Windows paths in its manifest, zip names with "/", no .git or venv.
    backup = second.result["backup_path"]
    assert backup.startswith(BACKUP_DIR + "\\app-") and backup.endswith("-%s.zip" % (
        second.result["deploy_id"]))
    with zipfile.ZipFile(app.path(backup)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("DEPLOY_BACKUP.json"))
        assert "v1" in archive.read("app.py").decode()
    assert "static/index.txt" in names
    assert not [n for n in names if n.startswith((".git", ".venv")) or "\\" in n]
    assert (manifest["app_dir"], manifest["head"]) == (APP_DIR, v1)


def test_a_commit_crashing_at_start_is_rolled_back(running: WinApp):
    before = running.serving()
    run = running.deploy(running.commit("crashing", crash=True))
    assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
    assert "exited with code 1" in run.result["error"]
    assert "boom: crashing cannot start" in run.result["error"]  # from the app log
    assert running.serving() == before
    assert running.head() == run.result["previous_sha"] == run.result["running_sha"]


def test_a_failed_health_check_is_rolled_back(running: WinApp):
    before = running.serving()
    run = running.deploy(running.commit("unhealthy", status=503), health_timeout=ROLLBACK_WAIT)
    assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
    assert "answered 503" in run.result["error"] and run.result["health"] == "healthy"
    assert running.serving() == before
    assert running.state("last-good.json")["sha"] == run.result["previous_sha"]


def test_a_pip_failure_never_stops_the_old_app(running: WinApp):
    before, pid = running.serving(), running.state("app.json")["pid"]
    missing = "file:///C:/nowhere/missing-1.0-py3-none-any.whl"
    run = running.deploy(running.commit("needs-missing", requirements=f"missing @ {missing}\n"))
    assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
    assert run.result["error"].startswith("deps: installing requirements.txt failed")
    assert run.result["pid"] == pid and running.serving() == before
    assert running.head() == run.result["previous_sha"]
    assert "missing-1.0-py3-none-any.whl" in running.path(run.result["log_file"]).read_text()


def test_backups_beyond_the_retention_are_pruned(running: WinApp):
    if not running.backups():  # a fresh seed has nothing backed up yet
        assert running.deploy(running.commit("for-a-backup")).code == ExitCode.OK
    run = running.deploy(running.commit("retained"), backup_retention=1)
    assert run.code == ExitCode.OK, run.out + run.err
    assert [str(p) for p in running.backups()] == [str(running.path(run.result["backup_path"]))]
    assert "old pruned" in step_line(run.out, "backup")


def test_an_agent_killed_mid_deploy_leaves_a_stale_lock_the_next_deploy_takes_over(
        running: WinApp):
    target = running.commit("after-a-kill")

    def kill_after_stop(line: str, proc) -> None:
        if line.split()[:1] == ["stop"]:
            proc.kill()  # SIGKILL of the Wine process: TerminateProcess, no clean-up

    killed = running.deploy(target, on_line=kill_after_stop)
    assert killed.code != ExitCode.OK and killed.result == {}
    stale, journal = running.state("lock-owner.json"), running.state("journal.json")
    assert stale["deploy_id"] == journal["deploy_id"] and journal["phase"] in ("stop", "start")

    run = running.deploy(target)
    assert run.code == ExitCode.OK, run.out + run.err
    assert "took over a stale lock: deploy %s" % stale["deploy_id"] in step_line(run.out, "lock")
    assert "was interrupted during" in step_line(run.out, "record")
    assert running.serving() == "after-a-kill"
    assert len(running.app_processes()) == 2  # an app the killed agent started was stopped
