"""The ``local`` transport: the same agent zipapp, run on this machine as a subprocess.

Its rules: the paths in the parameters are paths on this machine (made absolute)
and the platform is this machine's. A dry run prints the command it would run,
the zipapp and the parameters, and runs nothing, writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 # runs the agent
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssm_action import runner
from ssm_action.contract.settings import SETTINGS
from ssm_action.contract import AgentResult
from ssm_action.deploy.model import DeployOutcome, InstanceResult, Plan
from ssm_action.payload import Payload
from ssm_action.payload import build as build_payload

AGENT_FILE = "ssm-deploy-agent.pyz"  # written into a private temporary folder with params.json
# SSM_ACTION_SERVER_<NAME>=value sets <NAME> for the agent only (empty: unset): this machine can play a server
# whose network differs from the runner's, e.g. a package index at a closed port (the demo, the tests).
SERVER_ENV = "SSM_ACTION_SERVER_"
# The runner's credentials stay here: the agent gets its AWS from the instance role, as on a server.
WITHHELD = ("GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE")


class LocalTransport:
    name = "local"

    def adapt(self, params: dict[str, Any]) -> dict[str, Any]:
        backup = params["backup_dir"]
        return {**params, "app_dir": os.path.abspath(params["app_dir"]) if params["app_dir"] else "",
                "backup_dir": os.path.abspath(backup) if backup else "",
                "platform": "windows" if os.name == "nt" else "linux"}

    def run(self, plan: Plan) -> DeployOutcome:
        python = plan.server.server_python or sys.executable
        if plan.dry_run:
            show_dry_run(plan, python)
            return DeployOutcome("local", dry_run=True, action=plan.params.action)
        result = run_agent(plan.params.to_json(), python=python, timeout=plan.targets.execution_timeout,
                           payload=plan.payload)
        return DeployOutcome("local", [result], log_url=result.log_url, action=plan.params.action)


def show_dry_run(plan: Plan, python: str) -> None:
    with runner.group("Dry run: the local agent run"):
        runner.log(f"{python} <temporary folder>/{AGENT_FILE} --params-file <temporary folder>/params.json")
        runner.log(f"agent zipapp: sha256 {plan.payload.sha256}, {len(plan.payload.data):,} bytes, "
                   f"members {', '.join(plan.payload.members)}")
        runner.log("parameters:\n" + json.dumps(plan.shown_params(), indent=2, sort_keys=True))
    runner.notice("Nothing was run: no agent started, nothing written on this machine. The command, the agent "
                  "and its parameters are in the log above.", title="Local dry run")


def run_agent(params: dict[str, Any], python: str | None = None, timeout: float = 3600,
              payload: Payload | None = None) -> InstanceResult:
    """Run the agent zipapp with ``params``, echo its lines as they come, return what it reported."""
    python = python or sys.executable
    started = time.monotonic()
    # A private folder: the parameters may carry app_env secrets.
    with tempfile.TemporaryDirectory(prefix="ssm-action-local-") as tmp:
        agent = Path(tmp) / AGENT_FILE
        agent.write_bytes((payload or build_payload()).data)
        params_file = Path(tmp) / "params.json"
        params_file.write_text(json.dumps(params), encoding="utf-8")
        with open(Path(tmp) / "stderr", "w+", encoding="utf-8", errors="replace") as err:
            try:
                proc = subprocess.Popen(  # nosec B603 # our agent file, no shell
                    [python, str(agent), "--params-file", str(params_file)],
                    stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
                    encoding="utf-8", errors="replace",
                    env=agent_environment(os.environ))
            except OSError as exc:
                return InstanceResult("local", "Failed", error=f"cannot run {python}: {exc}")
            output, code, timed_out = _follow(proc, timeout)
            err.seek(0)
            stderr = err.read().strip()
    agent_result = AgentResult.parse(output)
    if timed_out:
        status, error = "TimedOut", f"the agent did not finish within {timeout:g}s"
    else:
        status = "Success" if code == 0 else "Failed"
        error = stderr or ("" if agent_result else f"the agent ended (exit {code}) without a result line")
    return InstanceResult("local", status, duration=time.monotonic() - started, agent=agent_result,
                          output=output, error=error, log_url=(agent_result.log_file if agent_result else "") or "")


def agent_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """This machine's environment without the action's inputs and credentials (``aws.SETTINGS`` kept), with
    the SSM_ACTION_SERVER_* settings applied to the agent's."""
    agent = {k: v for k, v in environ.items()
             if k not in WITHHELD and not k.startswith(("INPUT_", SERVER_ENV))}
    agent.update({k: environ[k] for k in SETTINGS if k in environ})
    for key, value in environ.items():
        name = key[len(SERVER_ENV):]
        if key.startswith(SERVER_ENV) and name:
            if value:
                agent[name] = value
            else:
                agent.pop(name, None)
    return {**agent, "PYTHONIOENCODING": "utf-8"}


def _follow(proc: subprocess.Popen[str], timeout: float) -> tuple[str, int, bool]:
    """(stdout, exit code, timed out): each line echoed, indented, never read as a workflow command."""
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    lines = []
    try:
        with runner.commands_stopped():
            for line in proc.stdout or ():
                lines.append(line)
                print("  " + line, end="", flush=True)
            if lines and not lines[-1].endswith("\n"):
                print(flush=True)  # the block's end must start a line of its own
        code = proc.wait()
    finally:
        timer.cancel()
    return "".join(lines), code, timed_out.is_set()
