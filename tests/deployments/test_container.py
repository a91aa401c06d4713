"""The post-entrypoint in the action's image, started the way the runner starts it:
``docker run --entrypoint <runs.post-entrypoint of action.yml>``, state as STATE_* variables."""

from __future__ import annotations

import subprocess

import yaml

from tests import containers
from tests.conftest import ROOT
from tests.deployments.stand_ins import TOKEN


def test_the_post_entrypoint_finalises_a_deployment_from_the_image(action_image, github, tmp_path):
    post = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["post-entrypoint"]
    number = github.add_deployment("0" * 40, "production", "in_progress")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "octo-org/octo-app",
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "4242", "GITHUB_SHA": "0" * 40,
           "INPUT_GITHUB-TOKEN": TOKEN, "INPUT_ENVIRONMENT-URL": "", "STATE_deployment_id": str(number)}
    cmd = ["podman", "run", "--rm", "--network", "host", "--workdir", "/github/workspace",
           "-v", f"{tmp_path}:/github/workspace", "--entrypoint", post]
    for key, value in env.items():
        cmd += ["-e", f"{key}={value}"]
    done = subprocess.run(cmd + [action_image], env=containers.podman_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert github.states(number) == ["in_progress", "error"]
    assert github.calls("status")[-1].headers["Authorization"] == f"Bearer {TOKEN}"
