"""action.yml is the single source of truth: the code and the README follow it."""

import subprocess
import sys

from ssm_action import spec
from ssm_action.config.sections import input_fields

from tests.conftest import ROOT


def test_every_input_is_a_config_field_and_back():
    inputs = {item.name.replace("-", "_") for item in spec.load().inputs}
    assert inputs == input_fields()


def test_every_input_and_output_is_documented():
    action = spec.load()
    for item in action.inputs:
        assert item.description.strip(), item.name
        assert item.name == item.name.lower() and "_" not in item.name, "inputs are kebab-case"
    assert all(text.strip() for text in action.outputs.values())


def test_issue_contract_names_are_present():
    names = {item.name for item in spec.load().inputs}
    for required in ("mode", "working-directory", "gates", "blocking-gates", "requirements-file",
                     "coverage-threshold", "smoke-imports", "required-env", "safety-api-key", "transport",
                     "dry-run", "aws-region", "environment", "environment-map", "instance-ids", "targets",
                     "platform", "app-directory", "app-entry", "server-python", "venv-directory",
                     "health-check-url", "health-check-timeout", "backup-directory", "backup-retention",
                     "rollback-on-failure", "s3-bucket", "s3-key-prefix", "delivery-timeout",
                     "execution-timeout", "max-concurrency", "max-errors", "github-token",
                     "create-deployment", "environment-url"):
        assert required in names
    assert spec.load().inputs[0].name == "mode"
    assert {i.name: i.default for i in spec.load().inputs}["github-token"] == "${{ github.token }}"


def test_readme_tables_match_action_yml():
    done = subprocess.run([sys.executable, str(ROOT / "scripts/readme_tables.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
