"""Stopping the app on Windows: what a graceful stop lacks today, and the false success an
empty process list gave (issue 17)."""

from __future__ import annotations

import pytest

from ssm_action.contract import ExitCode
from tests.windows import standins
from tests.windows.winapp import WINDOWS, STOP_MARKER, WinApp

pytestmark = WINDOWS


@pytest.mark.xfail(strict=True, reason="issue 17: no graceful stop on Windows; taskkill without "
                   "/F is refused for a window-less pythonw.exe, so the app is always forced "
                   "(TerminateProcess) and its atexit/SIGBREAK clean-up never runs")
def test_a_redeploy_lets_the_old_app_exit_cleanly(running: WinApp):
    old = running.serving()
    run = running.deploy(running.commit("after-a-clean-stop"))
    assert run.code == ExitCode.OK, run.out + run.err
    assert running.path(STOP_MARKER % old).exists(), [
        line for line in run.out.splitlines() if line.startswith("stop")]


@pytest.mark.xfail(strict=True, reason="issue 17 bug 2: an empty process list is taken as 'no "
                   "running app'; the old app keeps the port and answers the health check, and the "
                   "result says success naming the new sha and the pid of a new app that cannot "
                   "bind (the trial saw WinError 10013 and running_sha/pid null)")
def test_an_empty_process_list_never_gives_a_false_success(running: WinApp):
    running.dirty = True  # the old app may be left running unrecorded
    old = running.serving()
    # The new version starts slowly (as real apps do): alive through the start grace.
    sha = running.commit("slow-start", prelude="import time\ntime.sleep(3)")
    flag = running.path(standins.EMPTY_LISTING)
    flag.touch()
    try:
        run = running.deploy(sha)
    finally:
        flag.unlink()
    result = run.result
    if result["status"] == "success":  # only if the new version really serves
        assert (result["running_sha"], result["pid"]) == (sha, running.state("app.json")["pid"])
        assert running.serving() == "slow-start", run.out
    else:
        assert "process" in result["error"].lower(), run.out
        assert running.serving() == old
