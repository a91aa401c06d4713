"""The post-entrypoint's start: state from the main step, or a notice that the runner gave none."""

import subprocess
import sys

from tests.conftest import ROOT
from tests.runner_files import annotations


def run_post(runner_files, **state: str) -> subprocess.CompletedProcess:
    env = {**runner_files.env, **{f"STATE_{k}": v for k, v in state.items()}}
    return subprocess.run([sys.executable, str(ROOT / "post_entrypoint.py")], env=env, capture_output=True,
                          text=True, timeout=60, cwd=runner_files.env["GITHUB_WORKSPACE"])


def test_no_state_at_all_is_a_notice_not_a_silent_success(runner_files):
    done = run_post(runner_files)
    assert done.returncode == 0, done.stderr
    assert annotations(done.stdout, "notice") == [
        "The post step received no state from the main step (this runner passes no STATE_* values to a docker "
        "action's post step, as act and Gitea/Forgejo act_runner do), so it cannot finalise a GitHub deployment "
        "that a cancelled run left in progress here."]


def test_the_main_step_marks_its_state_and_then_the_post_step_is_quiet(runner_files):
    main = runner_files.run({"mode": "bogus"})
    assert main.returncode == 1 and runner_files.states() == {"started": "true"}
    done = run_post(runner_files, **runner_files.states())
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
