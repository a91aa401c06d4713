"""The image, for real: built from the Dockerfile with podman and run as the runner runs it."""

import yaml

from tests import containers
from tests.runner_files import annotations, read_file_commands


def test_config_error_in_the_container(action_image, tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    done, files = containers.run_action(action_image, workspace, {"mode": "bogus", "github-token": "ghs_SECRET9"})
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[0] == "::add-mask::ghs_SECRET9"
    assert any(e.startswith("mode: got 'bogus'; must be one of: gates, deploy, all, status, rollback.")
               for e in annotations(done.stdout))
    assert read_file_commands(files / "output") == {"result": "failure"}
    summary = (files / "summary").read_text()
    assert "| `mode` | `bogus` |" in summary and "SECRET9" not in summary


def test_help_in_the_container(action_image, tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    done, _ = containers.run_action(action_image, workspace, {}, args=["--help"])
    assert done.returncode == 0, done.stderr
    assert "--instance-ids VALUE" in done.stdout and "--mode VALUE" in done.stdout


def test_the_code_lives_outside_the_mounted_workdir(action_image, tmp_path):
    """The runner mounts the workspace over the workdir: the action must not depend on it."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "ssm_action").mkdir()  # a decoy package in the user's checkout
    (workspace / "ssm_action" / "__init__.py").write_text("raise SystemExit('imported the workspace copy')\n")
    done, _ = containers.run_action(action_image, workspace, {"mode": "bogus"})
    assert done.returncode == 1 and "workspace copy" not in done.stdout + done.stderr


def test_both_entrypoints_start_with_the_runners_own_path(action_image, tmp_path):
    """act and act_runner pass their own PATH to the container: nothing may depend on the image's."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    foreign = {"PATH": "/nonexistent:/also-not-here"}
    done, _ = containers.run_action(action_image, workspace, {"mode": "bogus"}, env=foreign)
    assert done.returncode == 1, done.stdout + done.stderr
    assert any(e.startswith("mode: got 'bogus'") for e in annotations(done.stdout))
    post_entrypoint = yaml.safe_load((containers.ROOT / "action.yml").read_text())["runs"]["post-entrypoint"]
    post, _ = containers.run_action(action_image, workspace, {}, env=foreign, entrypoint=post_entrypoint)
    assert post.returncode == 0, post.stdout + post.stderr
    assert annotations(post.stdout, "notice") and "received no state" in post.stdout
