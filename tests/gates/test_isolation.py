"""The tested code never sees the action's secrets: a probe planted in a project records
the environment of its build (setup.py), of the smoke import and of its tests."""

from __future__ import annotations

import json
import os
from unittest import mock

from ssm_action import runner
from ssm_action.gates import isolation
from tests.gates.conftest import SHAPES, by_name, run_gates

SECRETS = {
    "INPUT_GITHUB-TOKEN": "ghs_probe_token_1", "INPUT_SAFETY-API-KEY": "probe-safety-key-2",
    "AWS_ACCESS_KEY_ID": "AKIAPROBE3", "AWS_SECRET_ACCESS_KEY": "probe-aws-secret-4",
    "AWS_SESSION_TOKEN": "probe-session-5", "ACTIONS_RUNTIME_TOKEN": "probe-runtime-6",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "probe-oidc-7", "GITHUB_TOKEN": "ghs_probe_token_8",
    "DB_PASSWORD": "probe-workflow-secret-10",  # a workflow secret the action never saw masked
}
MASKED = "probe-masked-value-9"


def test_build_smoke_and_tests_see_no_secret_but_the_names_kept(copy_project, tmp_path):
    project = copy_project(SHAPES / "probe", "probe")
    planted = {**SECRETS, "INNOCENT_LOOKING": f"prefix-{MASKED}-suffix", "SHAPE_PROBE_DIR": str(tmp_path),
               "AWS_PROFILE": "kept-by-required-env", "AWS_REGION": "kept-by-pass-env", "PLAIN_SETTING": "kept"}
    runner.mask(MASKED)
    try:
        with mock.patch.dict(os.environ, planted):
            run = run_gates(project, gates="tests, smoke", smoke_imports="probe_mod", required_env="AWS_PROFILE",
                            pass_env="AWS_REGION", installer="uv")
    finally:
        runner.reset()
    assert {r.name: r.state for r in run.results} == {"tests": "passed", "smoke": "passed"}, run.results
    seen = {path.name: json.loads(path.read_text()) for path in tmp_path.glob("*.json")}
    imports = [name for name in seen if name.startswith("import-")]
    assert "build.json" in seen and "tests.json" in seen and len(imports) >= 2, sorted(seen)  # smoke and tests
    secret_values = set(SECRETS.values()) | {MASKED}
    for name, environment in seen.items():
        assert not set(SECRETS) & set(environment), name
        assert "INNOCENT_LOOKING" not in environment, name
        assert not any(secret in value for value in environment.values() for secret in secret_values), name
        assert environment["AWS_PROFILE"] == "kept-by-required-env", name
        assert environment["AWS_REGION"] == "kept-by-pass-env", name
        assert environment["PLAIN_SETTING"] == "kept", name


def test_only_names_are_logged_and_keep_wins():
    base = {"INPUT_MODE": "gates", "AWS_SECRET_ACCESS_KEY": "x", "HOME": "/root", "ACTIONS_CACHE_URL": "u",
            "GITHUB_TOKEN": "t", "GITHUB_SHA": "abc"}
    kept = {"INPUT_MODE": "gates", "HOME": "/root", "GITHUB_SHA": "abc"}
    assert isolation.without_secrets(("INPUT_MODE",), base) == kept
    assert isolation.removed((), base) == ["ACTIONS_CACHE_URL", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "INPUT_MODE"]


def test_names_that_say_secret_are_secrets_and_lookalikes_are_not():
    secret = ["DB_PASSWORD", "npm_token", "STRIPE_API_KEY", "SSH_PRIVATE_KEY", "MY_SECRET", "SENTRY_APIKEY",
              "GOOGLE_APPLICATION_CREDENTIALS", "DEPLOY-TOKEN", "SNOWFLAKE_ACCESS_KEY_ID"]
    plain = ["PWD", "TOKENIZERS_PARALLELISM", "KEYBOARD", "DATABASE_URL", "SECRETARY_NAME", "PATH", "API_URL"]
    assert [n for n in secret if not isolation.secret_name(n)] == []
    assert [n for n in plain if isolation.secret_name(n)] == []


def test_smoke_reports_an_undeclared_import_from_the_projects_environment(copy_project):
    project = copy_project(SHAPES / "setup-py", "undeclared")
    (project / "sp_pkg" / "web.py").write_text("import requests  # not declared by the project\n")
    result = by_name(run_gates(project, gates="smoke, pylint", smoke_imports="sp_pkg, sp_pkg.web"))
    smoke = result["smoke"].outcome
    assert [(f.code, f.message) for f in smoke.findings] == [
        ("sp_pkg.web", "ModuleNotFoundError: No module named 'requests'")]
    pylint_codes = {(f.path, f.code) for f in result["pylint"].outcome.findings}
    assert ("sp_pkg/web.py", "E0401 import-error") in pylint_codes  # requests is in pylint's own environment
    assert not any(f.path == "sp_pkg/__init__.py" and "import-error" in f.code
                   for f in result["pylint"].outcome.findings)  # six is declared: resolved
