"""Real deploy-agent output, obtained by running the real Linux bootstrap (which runs the real
agent zipapp, ssm_action/payload.py) on a tiny git app, exactly as SSM would: ``sh -c _script.sh``.

The fake SSM invocations return this output, so the transport's parsing is
tested on the agent's real format. Shared by tests/ssm/conftest.py and
benchmarks/ssm_bench.py.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssm_action.contract import AgentResult
from ssm_action import payload as agent_zipapp
from ssm_action.transports.ssm import bootstrap
from tests.agent.agent_fixtures import Server, build_wheel, kill_processes_under, uv_folder


@dataclass(frozen=True)
class BootstrapRun:
    code: int
    stdout: str
    stderr: str

    @property
    def result(self) -> AgentResult | None:
        return AgentResult.parse(self.stdout)


def run_script(script: str, folder: Path, env: dict[str, str]) -> BootstrapRun:
    """As the SSM Agent runs AWS-RunShellScript: the commands in an executable file, `sh -c file`.
    Pipes capture the output: a bootstrap that leaked them to the (still running) app would hang here."""
    path = folder / "_script.sh"
    path.write_text(script + "\n")
    path.chmod(0o700)
    done = subprocess.run(["sh", "-c", str(path)], capture_output=True, text=True, env=env, timeout=120)
    return BootstrapRun(done.returncode, done.stdout, done.stderr)


def deploy_through_bootstrap(server: Server, sha: str, **overrides: Any) -> BootstrapRun:
    data = bootstrap.payload(agent_zipapp.build(), server.params(sha, **overrides), sys.executable)
    return run_script(bootstrap.script("linux", data), server.root, server.env)


def real_runs(root: Path) -> dict[str, BootstrapRun]:
    """success (a second deploy: previous SHA and backup set), status (read-only, after it), rollback (back to
    the first version), rolled_back, failed (no rollback)."""
    root.mkdir(parents=True, exist_ok=True)
    server = Server(root / "server", build_wheel(root), uv_folder(root / "uv"))
    try:
        deploy_through_bootstrap(server, server.commit("v1"))
        v2 = server.commit("v2")
        runs = {"success": deploy_through_bootstrap(server, v2)}
        runs["status"] = deploy_through_bootstrap(server, v2, action="status")
        runs["rollback"] = deploy_through_bootstrap(server, v2, action="rollback")
        runs["rolled_back"] = deploy_through_bootstrap(server, server.commit("v3", crash=True))
        runs["failed"] = deploy_through_bootstrap(server, server.commit("v4", crash=True), rollback_on_failure=False)
    finally:
        kill_processes_under(root)
    for name, run in runs.items():
        expected = {"status": "success", "rollback": "success"}.get(name, name)
        if not run.result or run.result.status != expected:
            raise RuntimeError(f"the real agent did not produce a {name} run:\n{run.stdout}\n{run.stderr}")
    return runs
