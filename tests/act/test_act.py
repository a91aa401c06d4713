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


@pytest.fixture(scope="module")
def act_run(action_image, docker_host, tmp_path_factory) -> tuple[subprocess.CompletedProcess, str]:
    repository = act_repository(tmp_path_factory.mktemp("act-repo"), WORKFLOW)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True,
                         check=True).stdout.strip()
    with socket.socket() as probe:  # the sample app's port on the host's network
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    work = tmp_path_factory.mktemp("act")
    done = run_act(repository, WORKFLOW.name, action_image, docker_host, work, {"PORT": str(port)})
    (work / "act.log").write_text(done.stdout + done.stderr)  # the whole log, for a failure's reader
    return done, sha


def job_lines(log: str, job: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in log.splitlines() if re.match(rf"^\[act/{job}\s*\] ", line)]


@pytest.mark.container
def test_every_job_ends_as_it_should(act_run):
    done, _ = act_run
    log = done.stdout + done.stderr
    assert dict(JOB_END.findall(log)) == {"gates": "succeeded", "dry-run": "succeeded",
                                          "bad-input": "failed", "local-deploy": "succeeded"}, log[-20000:]
    assert done.returncode == 1  # the failing job fails the run
    assert "Traceback" not in log and "This is a bug" not in log


@pytest.mark.container
def test_the_planted_token_never_shows_in_clear(act_run):
    done, _ = act_run
    token = yaml.safe_load(WORKFLOW.read_text())["env"]["PLANTED_TOKEN"]
    log = done.stdout + done.stderr
    assert token not in log
    assert "  | planted token is ***" in job_lines(log, "gates")  # the action's ::add-mask:: reached act


@pytest.mark.container
def test_outputs_reach_later_steps(act_run):
    done, sha = act_run
    log = done.stdout + done.stderr
    assert "  | outputs checked: passed" in job_lines(log, "gates")
    assert "  | dry-run checked: production" in job_lines(log, "dry-run")
    assert f"  | deploy checked: {sha}" in job_lines(log, "local-deploy")


@pytest.mark.container
def test_a_bad_input_fails_its_step_with_an_annotation(act_run):
    done, _ = act_run
    lines = job_lines(done.stdout + done.stderr, "bad-input")
    assert "  ❗  ::error title=Invalid input::mode: got 'bogus'; must be one of: gates, deploy, all." in lines
    assert any(line.startswith("  ❌  Failure - Main A bad input fails the step") for line in lines)


@pytest.mark.container
def test_the_post_step_runs_and_says_it_got_no_state(act_run):
    done, _ = act_run
    lines = job_lines(done.stdout + done.stderr, "local-deploy")
    assert any(line.startswith("  ✅  Success - Post Deploy the sample app") for line in lines)
    assert any(line.startswith("  ❓  ::notice title=Post step without state::") for line in lines)
