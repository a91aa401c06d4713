"""Hooks and the deploy lock on Windows: .py and .cmd hooks (Wine's cmd.exe), .ps1 (no PowerShell
here), and a second agent refused by the msvcrt lock while the first one runs a hook."""

from __future__ import annotations

import ntpath
import threading
import time

from ssm_action.contract import ExitCode
from tests.windows import standins
from tests.windows.winapp import WINDOWS, APP_DIR, AgentRun, WinApp

LOG = r"C:\srv\hooks.txt"
WAITING_HOOK = r'''
import os, time
open(r"C:\srv\pre-stop-started", "w").close()
deadline = time.time() + 120
while not os.path.exists(r"C:\srv\go") and time.time() < deadline:
    time.sleep(0.1)
with open(r"%s", "a") as log:
    log.write("pre-stop.py %%s %%s\n" %% (os.environ["DEPLOY_PHASE"], os.environ["DEPLOY_SHA"]))
''' % LOG

pytestmark = WINDOWS


def wait_for(path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, "%s never appeared" % path
        time.sleep(0.1)


CMD_HOOK = "@echo post-start.cmd %%DEPLOY_PHASE%% %%DEPLOY_SHA%%>> %s\r\n" % LOG


def test_a_second_agent_is_refused_by_the_msvcrt_lock_while_a_py_hook_runs(running: WinApp):
    """Also a .cmd hook (post-start), run by cmd.exe /d /c: Wine's cmd.exe runs batch files."""
    sha = running.commit("hooked", files={"deploy/hooks/pre-stop.py": WAITING_HOOK,
                                          "deploy/hooks/post-start.cmd": CMD_HOOK})
    first: list[AgentRun] = []
    thread = threading.Thread(target=lambda: first.append(running.deploy(sha)))
    thread.start()
    try:
        wait_for(running.path(r"C:\srv\pre-stop-started"))
        owner = running.state("lock-owner.json")
        second = running.deploy(sha)
        assert second.code == ExitCode.BUSY, second.out + second.err
        assert second.result["status"] == "busy"
        assert "another deploy (%s, pid %s" % (owner["deploy_id"], owner["pid"]) in (
            second.result["error"])
    finally:
        running.path(r"C:\srv\go").touch()
        thread.join(300)
    assert first[0].code == ExitCode.OK, first[0].out + first[0].err
    assert "ran pre-stop.py" in first[0].out and "ran post-start.cmd" in first[0].out
    assert running.path(LOG).read_text().split() == [
        "pre-stop.py", "pre-stop", sha, "post-start.cmd", "post-start", sha]
    assert running.serving() == "hooked"


def test_a_ps1_hook_is_handed_to_powershell_which_cannot_run_here(running: WinApp):
    """No PowerShell runs under Wine (its powershell.exe is a stub that exits 0 silently; the
    stand-in refuses scripts), so a .ps1 hook can only be checked up to its command line:
    what a real Windows Server would run, and that a failing pre-stop hook leaves the app."""
    before, pid = running.serving(), running.state("app.json")["pid"]
    calls = len(standins.calls(running.wine))
    run = running.deploy(running.commit("ps1-hooked", files={
        "deploy/hooks/pre-stop.ps1": "Add-Content C:\\srv\\hooks.txt 'pre-stop.ps1'\r\n"}))
    assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
    assert "hook deploy\\hooks\\pre-stop.ps1 failed (exit 99); the app was not touched" in (
        run.result["error"])
    assert "PowerShell stand-in: cannot run" in run.out
    ran = [c for c in standins.calls(running.wine)[calls:] if "-File" in c]
    assert [c[:-1] for c in ran] == [["powershell", "-NoProfile", "-NonInteractive",
                                      "-ExecutionPolicy", "Bypass", "-File"]]
    assert ntpath.normpath(ran[0][-1]) == APP_DIR + "\\deploy\\hooks\\pre-stop.ps1", ran
    assert running.serving() == before and running.state("app.json")["pid"] == pid


def test_a_cmd_hook_in_a_folder_with_an_ampersand_runs(running: WinApp):
    """Outside quotes cmd.exe ends a command at '&': the hook's path goes to it quoted whole."""
    log = r"C:\srv\ampersand.txt"
    sha = running.commit("ampersand", files={"deploy/R&D/post-start.cmd": "@echo ran %%DEPLOY_PHASE%%>> %s\r\n" % log})
    run = running.deploy(sha, hooks_dir="deploy\\R&D")
    assert run.code == ExitCode.OK, run.out + run.err
    assert "ran post-start.cmd" in run.out and running.path(log).read_text().split() == ["ran", "post-start"]
