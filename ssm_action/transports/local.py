"""The ``local`` transport: the same deploy agent zipapp, run on this machine as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 # runs the agent
import sys
import tempfile
import threading
import time
from pathlib import Path

from ssm_action import payload
from ssm_action.results import InstanceResult, parse_result_line


def run(params: dict, python: str | None = None, timeout: float = 3600) -> InstanceResult:
    """Run the agent with ``params``, echo its lines as they come, return what it reported."""
    python = python or sys.executable
    started = time.monotonic()
    # A private folder: the parameters may carry app_env secrets.
    with tempfile.TemporaryDirectory(prefix="ssm-action-local-") as tmp:
        params_file = Path(tmp) / "params.json"
        params_file.write_text(json.dumps(params), encoding="utf-8")
        agent = payload.write(tmp)
        with open(Path(tmp) / "stderr", "w+", encoding="utf-8", errors="replace") as err:
            try:
                proc = subprocess.Popen(  # nosec B603 # our agent zipapp, no shell
                    [python, str(agent), "--params-file", str(params_file)],
                    stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
                    encoding="utf-8", errors="replace",
                    env={**os.environ, "PYTHONIOENCODING": "utf-8"})
            except OSError as exc:
                return InstanceResult("local", "Failed", error=f"cannot run {python}: {exc}")
            timed_out = threading.Event()
            timer = threading.Timer(timeout, lambda: (timed_out.set(), proc.kill()))
            timer.daemon = True
            timer.start()
            lines = []
            try:
                for line in proc.stdout:
                    lines.append(line)
                    print("  " + line, end="", flush=True)  # indented: never a workflow command
                code = proc.wait()
            finally:
                timer.cancel()
            err.seek(0)
            stderr = err.read().strip()
    output = "".join(lines)
    agent = parse_result_line(output)
    if timed_out.is_set():
        status, error = "TimedOut", f"the agent did not finish within {timeout:g}s"
    else:
        status = "Success" if code == 0 else "Failed"
        error = stderr or ("" if agent else f"the agent ended (exit {code}) without a result line")
    return InstanceResult("local", status, duration=time.monotonic() - started, agent=agent,
                          output=output, error=error, log_url=(agent or {}).get("log_file") or "")
