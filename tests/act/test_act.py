"""The action under act, a second runner (and the engine of Gitea's and Forgejo's runners):
one act run of tests/act/workflow.yml with `uses: ./`, in container mode over podman."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.act.conftest import act_repository, run_act

WORKFLOW = Path(__file__).resolve().parent / "workflow.yml"
JOB_END = re.compile(r"^\[act/(\S+)\s*\] 🏁  Job (succeeded|failed)$", re.MULTILINE)


def act_run(action_image: str, docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, int]:
    """The act run: its whole log (also kept as act.log beside it), the commit, act's exit code."""
    repository = act_repository(tmp_path_factory.mktemp("act-repo"), WORKFLOW)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True,
                         check=True).stdout.strip()
    with socket.socket() as probe:  # the sample app's port on the host's network
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    work = tmp_path_factory.mktemp("act")
    done = run_act(repository, WORKFLOW.name, action_image, docker_host, work, {"PORT": str(port)})
    log = done.stdout + done.stderr
    (work / "act.log").write_text(log)
    return log, sha, done.returncode


def job_lines(log: str, job: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in log.splitlines() if re.match(rf"^\[act/{job}\s*\] ", line)]


def starts(lines: list[str], prefix: str) -> bool:
    return any(line.startswith(prefix) for line in lines)


# One test for one act run: pytest-xdist would run a shared fixture once per worker.
@pytest.mark.container
def test_the_action_under_act(action_image, docker_host, tmp_path_factory):
    log, sha, code = act_run(action_image, docker_host, tmp_path_factory)
    tail = log[-20000:]
    # Every job ends as it should, and the failing one fails the run.
    assert dict(JOB_END.findall(log)) == {"gates": "succeeded", "dry-run": "succeeded",
                                          "bad-input": "failed", "local-deploy": "succeeded"}, tail
    assert code == 1 and "Traceback" not in log and "This is a bug" not in log, tail

    # The planted token never shows in clear, and the action's ::add-mask:: reached act.
    token = yaml.safe_load(WORKFLOW.read_text())["env"]["PLANTED_TOKEN"]
    assert token not in log
    assert "  | planted token is ***" in job_lines(log, "gates")

    # Outputs reach later steps.
    assert "  | outputs checked: passed" in job_lines(log, "gates")
    assert "  | dry-run checked: production" in job_lines(log, "dry-run")
    assert f"  | deploy checked: {sha}" in job_lines(log, "local-deploy")

    # A bad input fails its step with an annotation.
    bad = job_lines(log, "bad-input")
    assert ("  ❗  ::error title=Invalid input::mode: got 'bogus'; must be one of: gates, deploy, all, status, "
            "rollback.") in bad
    assert starts(bad, "  ❌  Failure - Main A bad input fails the step")

    # The post step starts with the job's foreign PATH, and says it got no state.
    deploy = job_lines(log, "local-deploy")
    assert starts(deploy, "  ✅  Success - Post Deploy the sample app")
    assert starts(deploy, "  ❓  ::notice title=Post step without state::")
