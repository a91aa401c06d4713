"""Stopping the app on Windows: the stop-request file as the graceful stop, the forced stop
after stop_timeout for an app that ignores it, and the process list from the Windows API
finding an app the PID file does not name (issue 17)."""

from __future__ import annotations

from ssm_action.contract import ExitCode
from tests.windows.winapp import WINDOWS, STOP_MARKER, WinApp

pytestmark = WINDOWS


def step_line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == [name])


def test_a_redeploy_lets_the_old_app_exit_cleanly_and_forces_one_that_ignores_it(
        running: WinApp):
    old = running.serving()
    deaf = running.deploy(running.commit("deaf", prelude="signal.signal(signal.SIGINT, "
                                                         "signal.SIG_IGN)"))
    assert deaf.code == ExitCode.OK, deaf.out + deaf.err
    assert running.path(STOP_MARKER % old).exists(), step_line(deaf.out, "stop")
    assert "(forced)" not in step_line(deaf.out, "stop")
    assert not running.path(r"C:\srv\app.deploy\stop-request").exists()
    # "deaf" ignores the stop request: forced after stop_timeout, no clean-up ran.
    run = running.deploy(running.commit("after-deaf"), stop_timeout=1)
    assert run.code == ExitCode.OK, run.out + run.err
    assert step_line(run.out, "stop").endswith("stopped pid %d (forced)" % deaf.result["pid"])
    assert not running.path(STOP_MARKER % "deaf").exists()  # TerminateProcess: no atexit
    assert running.serving() == "after-deaf" and len(running.app_processes()) == 2


def test_an_unrecorded_old_app_is_found_through_the_windows_api(running: WinApp):
    """Bug 2: with Wine's empty PowerShell listing the old app was missed, kept the port and
    answered the health check: a false success. The listing now comes from the Windows API
    (the agent's own pid must be in it); the old pair is found by its command line."""
    old = running.serving()
    running.path(r"C:\srv\app.deploy\app.json").unlink()  # the PID file is lost
    sha = running.commit("slow-start", prelude="time.sleep(3)")
    run = running.deploy(sha)
    assert run.code == ExitCode.OK, run.out + run.err
    assert "stopped pid" in step_line(run.out, "stop") and old != "slow-start"
    assert (run.result["running_sha"], run.result["pid"]) == (sha, running.state("app.json")["pid"])
    assert running.serving() == "slow-start" and len(running.app_processes()) == 2
