"""This repository's workflows and the templates users copy: lint-clean and hardened."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml")) + sorted((ROOT / "examples/workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
OURS = "ssm-deploy-action/ssm-deploy-action@v1"


def test_actionlint_and_schema_on_every_workflow_and_template():
    done = subprocess.run(["bash", str(ROOT / "scripts/lint-workflows.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def uses_lines(path: Path) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^\s*(?:- )?uses: (.+)$", path.read_text(), re.M)]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_third_party_actions_are_pinned_by_sha_with_a_version_comment(path):
    for use in uses_lines(path):
        if use.startswith("./") or use == OURS:
            continue
        assert PINNED.match(use), f"{path.name}: {use}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_timeouts_and_no_persisted_credentials(path):
    flow = yaml.safe_load(path.read_text())
    assert flow["permissions"] == {}, "top-level permissions: {}"
    assert path.read_text().startswith("#"), "a header comment says what the workflow is for"
    for name, job in flow["jobs"].items():
        assert "permissions" in job, f"{name} declares what it needs"
        if "uses" in job:  # a call of a reusable workflow
            continue
        assert "timeout-minutes" in job, name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_release_makes_action_yml_use_the_prebuilt_image(tmp_path):
    target = tmp_path / "action.yml"
    shutil.copy(ROOT / "action.yml", target)
    image = "ghcr.io/octo-org/ssm-deploy-action:1.2.3"
    done = subprocess.run([sys.executable, str(ROOT / "scripts/release_action_yml.py"), image, str(target)])
    assert done.returncode == 0
    action = yaml.safe_load(target.read_text())
    assert action["runs"]["image"] == f"docker://{image}"
    assert action["inputs"] == yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    schema = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                             "vendor.github-actions", str(target)], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout
    again = subprocess.run([sys.executable, str(ROOT / "scripts/release_action_yml.py"), image, str(target)],
                           capture_output=True, text=True)
    assert again.returncode == 1, "a second run finds no Dockerfile line and says so"
    bad = subprocess.run([sys.executable, str(ROOT / "scripts/release_action_yml.py"), "GHCR.io/Upper:1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2
