"""The entrypoint as the runner runs it: INPUT_* variables, file commands, exit codes."""

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.runner_files import annotations

DEPLOY = {"mode": "deploy", "instance-ids": "i-0123456789abcdef0", "app-directory": "C:\\apps\\web",
          "aws-region": "us-east-1"}

BAD_INPUTS = [
    ("mode", {"mode": "bogus"}, "gates, deploy, all"),
    ("instance-ids", dict(DEPLOY, **{"instance-ids": "i-12345"}), "i-0123456789abcdef0"),
    ("health-check-timeout", {"health-check-timeout": "-5"}, "from 1 to 3600"),
    ("execution-timeout", {"execution-timeout": "soon"}, "whole number"),
    ("dry-run", {"dry-run": "yes"}, "true or false"),
    ("instance-ids", dict(DEPLOY, targets="tag:App=web"), "both are set"),
    ("instance-ids", dict(DEPLOY, **{"instance-ids": ""}), "neither is set"),
    ("platform", {"platform": "macos"}, "windows, linux"),
    ("transport", {"transport": "ssh"}, "ssm, local"),
    ("max-concurrency", {"max-concurrency": "0"}, "percentage"),
    ("max-errors", {"max-errors": "101%"}, "percentage"),
    ("coverage-threshold", {"coverage-threshold": "101"}, "from 0 to 100"),
    ("gates", {"gates": "tests,mypy"}, "not a gate"),
    ("health-check-url", {"health-check-url": "localhost:8000"}, "http://"),
    ("s3-bucket", {"s3-bucket": "s3://My_Bucket"}, "bucket name"),
    ("targets", dict(DEPLOY, **{"instance-ids": "", "targets": "App=web"}), "tag:Key=Value"),
    ("delivery-timeout", {"delivery-timeout": "10"}, "from 30"),
    ("app-directory", dict(DEPLOY, **{"app-directory": ""}), "required to deploy"),
    ("environment-map", {"environment-map": "dev->development"}, "branch=environment"),
    ("aws-region", dict(DEPLOY, **{"aws-region": ""}), "AWS_REGION"),
    ("required-env", {"required-env": "DATABASE-URL"}, "variable names"),
]


@pytest.fixture
def recorder():
    """A local HTTP server standing in for AWS and GitHub: it records any request."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_ANY(self):
            seen.append(f"{self.command} {self.path}")
            self.send_response(500)
            self.end_headers()

        do_GET = do_POST = do_PUT = do_ANY

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


@pytest.mark.parametrize("name,inputs,hint", BAD_INPUTS, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_INPUTS)])
def test_bad_input_is_a_clear_error_before_any_call(runner_files, recorder, name, inputs, hint):
    url, seen = recorder
    runner_files.env.update({"AWS_ENDPOINT_URL": url, "GITHUB_API_URL": url, "AWS_ACCESS_KEY_ID": "x",
                             "AWS_SECRET_ACCESS_KEY": "y"})
    done = runner_files.run(inputs)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = annotations(done.stdout)
    mine = [e for e in errors if e.startswith(f"{name}: ")]
    assert mine and hint in mine[0], errors
    assert "::error title=Invalid input::" in done.stdout
    assert seen == []
    assert runner_files.outputs() == {"result": "failure"}
    summary = runner_files.summary.read_text()
    assert "invalid input" in summary and f"| `{name}` |" in summary


def test_all_bad_inputs_are_reported_together(runner_files):
    done = runner_files.run({"mode": "bogus", "platform": "bsd", "dry-run": "maybe"})
    assert done.returncode == 1
    assert {e.split(":")[0] for e in annotations(done.stdout)} == {"mode", "platform", "dry-run"}


def test_secrets_are_masked_first_and_never_printed(runner_files):
    done = runner_files.run({"github-token": "ghs_TOPSECRET", "safety-api-key": "sk-TOPSECRET2",
                             "mode": "bogus", "health-check-url": "ftp://ghs_TOPSECRET@host"})
    lines = done.stdout.splitlines()
    assert lines[0] == "::add-mask::ghs_TOPSECRET" and lines[1] == "::add-mask::sk-TOPSECRET2"
    rest = "\n".join(lines[2:]) + done.stderr + runner_files.summary.read_text() + runner_files.output.read_text()
    assert "TOPSECRET" not in rest


def test_flags_win_over_inputs(runner_files):
    done = runner_files.run({"mode": "bogus"}, "--mode", "alsobogus")
    assert "'alsobogus'" in done.stdout and "'bogus'" not in done.stdout


def test_help_lists_every_input_with_its_default():
    done = subprocess.run([sys.executable, "-m", "ssm_action", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0
    from ssm_action import spec
    for item in spec.load().inputs:
        assert f"--{item.name} " in done.stdout
    text = " ".join(done.stdout.split())
    assert "Default: 'gates'" in text and "(the workflow's token)" in text


def test_terminal_run_of_a_bad_mode_names_mode_and_the_allowed_values(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "ssm_action", "--mode", "bogus"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert ("Error: Invalid input: mode: got 'bogus'; must be one of: gates, deploy, all, status, rollback."
            in done.stdout)
    assert "== Outputs\nresult = failure" in done.stdout


def test_config_errors_do_not_import_aws_or_github_libraries():
    code = ("import sys; from ssm_action.cli import main; rc = main(['--mode', 'bogus']); "
            "heavy = [m for m in ('boto3', 'botocore', 'github', 'requests') if m in sys.modules]; "
            "print('HEAVY', heavy); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and "HEAVY []" in done.stdout


def test_unknown_branch_stops_before_any_call(runner_files, recorder, tmp_path):
    url, seen = recorder
    runner_files.env.update({"AWS_ENDPOINT_URL": url, "GITHUB_API_URL": url, "GITHUB_REF_NAME": "feature/x",
                             "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"})
    done = runner_files.run(DEPLOY)
    assert done.returncode == 1
    assert any("feature/x" in e and "environment-map" in e for e in annotations(done.stdout))
    assert seen == []


def test_a_working_directory_name_over_255_bytes_is_one_error_naming_the_input(runner_files):
    done = runner_files.run({"working-directory": "w" * 300})
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr, done.stderr
    assert [e for e in annotations(done.stdout) if e.startswith("working-directory: got 'www")
            and "is not a folder (File name too long)" in e]
    assert runner_files.outputs() == {"result": "failure"}


def test_an_untrusted_event_runs_none_of_the_projects_code_in_mode_all(runner_files, recorder, tmp_path):
    """pull_request_target from a fork checks out the fork's code: the trust check comes before the
    gates, so its tests (here a conftest that leaves a mark) never run."""
    url, seen = recorder
    workspace = Path(runner_files.env["GITHUB_WORKSPACE"])
    mark = tmp_path / "the-forks-code-ran"
    (workspace / "conftest.py").write_text(f"open({str(mark)!r}, 'w').close()\n")
    (workspace / "app.py").write_text("")
    (workspace / "test_app.py").write_text("def test_x():\n    pass\n")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"ref": "main", "repo": {"full_name": "mallory/octo-app"}}}}))
    runner_files.env.update({"AWS_ENDPOINT_URL": url, "GITHUB_API_URL": url, "GITHUB_EVENT_NAME": "pull_request_target",
                             "GITHUB_EVENT_PATH": str(event), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"})
    done = runner_files.run(dict(DEPLOY, mode="all", gates="tests", **{"environment-map": "main=production"}))
    assert done.returncode == 1, done.stdout
    assert any(e.startswith("This run was triggered by a pull_request_target event from the fork mallory/octo-app")
               for e in annotations(done.stdout)), done.stdout
    assert not mark.exists() and "Quality gates on" not in done.stdout
    assert seen == []


BREAK_A_MODE = """
import sys
from ssm_action import cli

def broken(cfg):
    raise KeyError("a bug planted by the test")

cli.run_modes = broken
sys.exit(cli.main([]))
"""


def test_an_internal_error_is_a_failure_with_a_summary_section_that_says_what_to_send(runner_files):
    env = dict(runner_files.env, INPUT_MODE="gates")
    done = subprocess.run([sys.executable, "-c", BREAK_A_MODE], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert any("This is a bug in ssm-deploy-action" in e for e in annotations(done.stdout))
    text = runner_files.summary.read_text()
    assert "Internal error" in text and "a bug planted by the test" in text and "#internal-error" in text
    assert runner_files.outputs()["result"] == "failure"


def test_the_cli_runs_from_any_folder(tmp_path):
    """scripts/setup.sh puts the checkout on the venv's path: no need to stand in the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    done = subprocess.run([sys.executable, "-m", "ssm_action", "--help"], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--mode" in done.stdout
