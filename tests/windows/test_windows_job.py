"""The SSM Agent's job object and ``app-host: process``: does the app outlive the job?

The SSM Agent puts every command's process in one job object with KILL_ON_JOB_CLOSE and
without BREAKAWAY_OK (amazon-ssm-agent, agent/jobobject/jobobject_windows.go); the job closes
when the SSM Agent exits or restarts. The stand-in standins/ssm_job_standin.py plays that job
under Wine (faithful for job objects, issue 17): it runs the real agent deploy in such a job,
reports the Windows pids still in the job once the agent exited, then exits, which closes the
job. Health is then checked from Linux. One deploy per case.

Seen under Wine 8: as SSM sets the job, CREATE_BREAKAWAY_FROM_JOB is refused (winerror 5),
the agent starts the app inside the job, the app passes its health check, and it is gone
(launcher and interpreter, no atexit) as soon as the job closes. With BREAKAWAY_OK the app
leaves the job and keeps serving.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ssm_action.agent.host import START_WARNING
from ssm_action.agent.windows import BREAKAWAY_REFUSED
from ssm_action.contract import ExitCode
from tests.windows.standins import HERE
from tests.windows.winapp import WINDOWS, STOP_MARKER, AgentRun, WinApp

pytestmark = WINDOWS
REPORT = "SSM JOB STAND-IN: "


def deploy_in_job(app: WinApp, version: str, breakaway_ok: bool) -> tuple[AgentRun, dict[str, Any]]:
    """One deploy inside the stand-in job, and the stand-in's report; the job has closed."""
    standin = app.wine.windows(HERE / "ssm_job_standin.py")
    flag = "--breakaway-ok" if breakaway_ok else "--no-breakaway-ok"
    run = app.deploy(app.commit(version), wrap=(app.python, standin, flag, "--"))
    assert run.code == ExitCode.OK, run.out + run.err
    line = next((x for x in run.out.splitlines() if x.startswith(REPORT)), "")
    assert line, run.out + run.err
    report = json.loads(line[len(REPORT):])
    assert (report["breakaway_ok"], report["agent_exit"]) == (breakaway_ok, ExitCode.OK)
    return run, report


def start_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == ["start"])


def answers_throughout(app: WinApp, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if app.get() is None:
            return False
        time.sleep(0.2)
    return True


def silent_within(app: WinApp, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while app.get() is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_with_breakaway_ok_the_app_leaves_the_job_and_outlives_it(running: WinApp):
    run, report = deploy_in_job(running, "lenient-job", breakaway_ok=True)
    assert "WARNING" not in start_line(run.out)  # the first start, with breakaway, was allowed
    assert not run.result.get("warnings")
    assert report["in_job"] == [report["me"]]  # neither the launcher nor its child
    assert answers_throughout(running, 3) and running.serving() == "lenient-job"
    assert len(running.app_processes()) == 2


def test_as_ssm_sets_the_job_the_app_stays_in_it_and_dies_when_it_closes(running: WinApp):
    run, report = deploy_in_job(running, "ssm-job", breakaway_ok=False)
    assert start_line(run.out).endswith(BREAKAWAY_REFUSED.strip())
    assert run.result["warnings"] == [BREAKAWAY_REFUSED[len(START_WARNING):]]  # the runner annotates it
    assert run.result["health_code"] == 200  # healthy while the job was open
    # The stand-in, the venv launcher (the recorded pid) and the interpreter it started.
    in_job = set(report["in_job"])
    assert {report["me"], run.result["pid"]} < in_job and len(in_job) == 3
    assert silent_within(running, 10), running.serving()
    assert running.app_processes() == []
    assert not running.path(STOP_MARKER % "ssm-job").exists()  # ended, not stopped: no atexit
