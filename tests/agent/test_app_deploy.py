"""The app's command, plain environment and secrets through the real agent: secrets resolved from moto (auth
on) through the IMDSv2 stand-in before anything stops, the app's last words on a failed start, and the health
answer's accepted statuses and text. The values never show in any output or file."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
import subprocess
import sys
from pathlib import Path

import pytest

from ssm_action.agent import launcher
from ssm_action.agent.posix import PosixPlatform
from ssm_action.contract import ExitCode
from tests.agent.agent_fixtures import Server, agent_zipapp, run_agent
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.agent.test_secrets import PY38

SECRETS = {"DB_URL": "ssm:/app/db-url", "API_KEY": "secretsmanager:app/keys#api_key"}
# Serves what it received (the secrets hashed) on the port in argv[1]; a module and a script.
SERVE = '''import hashlib, json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
import tinydep
VERSION = {version!r}
{prelude}

def digest(name):
    return hashlib.sha256(os.environ.get(name, "").encode()).hexdigest()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"version": VERSION, "argv": sys.argv[2:], "mode": os.environ.get("APP_MODE"),
                           "DB_URL": digest("DB_URL"), "API_KEY": digest("API_KEY")}}).encode()
        self.send_response({status})
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


print("listening", flush=True)
HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''
HOOK = "import os\nprint('migrating', os.environ['DB_URL'])\n"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def agent_env(server: Server, world: World, role: str = "app-role") -> dict[str, str]:
    world.client(role)  # the IMDS stand-in serves this role's STS credentials
    return {**server.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT": world.imds.url, "AWS_ENDPOINT_URL": world.moto,
            "AWS_REGION": "us-east-1"}


def commit(server: Server, version: str, status: int = 200, prelude: str = "") -> str:
    code = SERVE.format(version=version, status=status, prelude=prelude)
    return server.commit(version, files={"serve.py": code, "notes_server.py": code,
                                         "deploy/hooks/post-start.py": HOOK})


def deploy(server: Server, world: World, sha_: str, command: list[str] | None = None, role: str = "app-role",
           python: str = sys.executable, **params):
    params = {"app_command": command or ["serve.py", str(server.port), "--workers", "2"],
              "app_env": {"APP_MODE": "prod"}, "app_secrets": SECRETS, **params}
    args = server.params(sha_, **params)
    return run_agent(args, agent_env(server, world, role), python)


def answer(server: Server) -> dict:
    got = server.get()
    assert got and got[0] == 200, got
    return json.loads(got[1])


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and not path.is_symlink()]


def assert_nowhere(values: list[str], texts: list[str], root: Path) -> None:
    """No value in any text, nor in any file below ``root`` (app, state, logs, venv, backups)."""
    for value in values:
        assert not [text for text in texts if value in text]
        assert not [path for path in files_under(root) if value.encode() in path.read_bytes()]


@pytest.mark.parametrize("python", [sys.executable, PY38], ids=["python", "python3.8"])
def test_the_command_env_and_secrets_reach_the_app_and_the_values_nothing_else(server: Server, world: World,
                                                                               python: str):
    if python == PY38 and not Path(PY38).exists():
        pytest.skip(f"NO PYTHON 3.8 at {PY38}: the app block NOT run under the oldest Python")
    first = deploy(server, world, commit(server, "v1"), python=python)
    assert first.code == ExitCode.OK, first.out + first.err
    assert answer(server) == {"version": "v1", "argv": ["--workers", "2"], "mode": "prod", "DB_URL": sha(DB_URL),
                              "API_KEY": sha(API_KEY)}
    secrets_step = next(line for line in first.out.splitlines() if line.startswith("secrets "))
    assert "read API_KEY, DB_URL" in secrets_step
    assert "    migrating postgresql://***" not in first.out  # post-start output is logged, not printed
    second = deploy(server, world, commit(server, "v2"), command=["-m", "notes_server", str(server.port)],
                    python=python)
    assert second.code == ExitCode.OK, second.out
    assert answer(server)["version"] == "v2" and second.result["backup_path"]
    assert not PosixPlatform().alive(first.result["pid"])  # the old command's process was found and stopped
    log = Path(second.result["log_file"]).read_text()
    assert "migrating ***" in log and "connecting to ***" not in log  # the app's own log is its own
    assert_nowhere([DB_URL, API_KEY, "s3cr3t-pw"], [first.out, first.err, second.out, second.err],
                   server.root / "srv")


def test_a_missing_secret_stops_nothing_and_names_what_to_fix(server: Server, world: World):
    v1 = deploy(server, world, commit(server, "v1"))
    assert v1.code == ExitCode.OK, v1.out
    run = deploy(server, world, commit(server, "v2"), app_secrets={"DB_URL": "ssm:/app/missing"})
    assert run.code == ExitCode.FAILED, run.out
    assert run.result["error"] == ("secrets: app secrets: DB_URL (ssm:/app/missing): not found in us-east-1: "
                                   "create it, or fix the reference (nothing was changed)")
    assert [s["name"] for s in run.result["steps"]] == ["lock", "secrets"]
    assert run.result["pid"] == v1.result["pid"] and answer(server)["version"] == "v1"
    assert server.head() == v1.result["target_sha"]


def test_a_denied_secret_names_the_iam_action_and_resource(server: Server, world: World):
    v1 = deploy(server, world, commit(server, "v1"))
    run = deploy(server, world, commit(server, "v2"), role="ssm-only")
    assert run.code == ExitCode.FAILED, run.out
    assert ("API_KEY (secretsmanager:app/keys): access denied: allow secretsmanager:GetSecretValue on "
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/keys-?????? in the instance role's policy"
            in run.result["error"])
    assert run.result["error"].endswith("(nothing was changed)")
    assert run.result["pid"] == v1.result["pid"] and answer(server)["version"] == "v1"


def test_a_failed_start_reports_the_apps_last_words(server: Server, world: World):
    v1 = deploy(server, world, commit(server, "v1"))
    run = deploy(server, world, commit(server, "v2", prelude="import waitress_nope"))
    assert run.code == ExitCode.ROLLED_BACK, run.out
    assert run.result["error"] == \
        "verify: the app exited with code 1: ModuleNotFoundError: No module named 'waitress_nope'"
    assert "    app: listening" not in run.out  # it died before it logged
    assert answer(server)["version"] == "v1" and run.result["pid"] != v1.result["pid"]


def test_the_app_printing_its_secret_then_dying_shows_it_redacted(server: Server, world: World):
    deploy(server, world, commit(server, "v1"))
    dies = "print('cannot reach', os.environ['DB_URL'])\nraise SystemExit(3)"
    run = deploy(server, world, commit(server, "v2", prelude=dies))
    assert run.result["error"] == "verify: the app exited with code 3: cannot reach ***"
    assert "    app: cannot reach ***" in run.out and DB_URL not in run.out and "db.internal" not in run.out


def test_the_apps_last_words_hide_its_secrets_in_every_printed_form(server: Server, world: World):
    """JSON-escaped, URL-encoded, base64: not in the agent's output, its result (the runner's
    ::error, summary, audit-json and S3 audit record are made from these), its log, its state files."""
    keys = json.dumps({"api_key": API_KEY, "port": 5432})  # the whole JSON secret: quotes to escape
    refs = {**SECRETS, "KEYS": "secretsmanager:app/keys"}
    deploy(server, world, commit(server, "v1"), app_secrets=refs)
    dies = ("import base64, urllib.parse\nv = os.environ['DB_URL']\nprint(urllib.parse.quote(v, safe=''))\n"
            "print(base64.b64encode(b'at ' + v.encode()).decode())\n"
            "raise SystemExit(json.dumps({'keys': os.environ['KEYS']}))")
    run = deploy(server, world, commit(server, "v2", prelude=dies), app_secrets=refs)
    assert run.code == ExitCode.ROLLED_BACK, run.out
    assert run.result["error"] == 'verify: the app exited with code 1: {"keys": "***"}'
    forms = [form for value in (DB_URL, keys) for form in (
        value, json.dumps(value)[1:-1], urllib.parse.quote(value, safe=""),
        base64.b64encode(value.encode()).decode()[:40], base64.b64encode(b"at " + value.encode()).decode()[4:40])]
    state = Path(f"{server.app_dir}.deploy")
    texts = [run.out, run.err, Path(run.result["log_file"]).read_text()] + [
        path.read_text(errors="replace") for path in files_under(state) if path.name != "app.log"]
    assert "last-deploy.json" in {path.name for path in files_under(state)}
    assert not [(form, text) for form in forms for text in texts if form in text]
    assert urllib.parse.quote(DB_URL, safe="") in (state / "logs" / "app.log").read_text()  # the app's own log


def test_a_secret_too_short_to_redact_is_refused_before_anything_changes(server: Server, world: World):
    v1 = deploy(server, world, commit(server, "v1"))
    short = {**SECRETS, "DB_PORT": "secretsmanager:app/keys#port"}  # "5432"
    run = deploy(server, world, commit(server, "v2"), app_secrets=short)
    assert run.code == ExitCode.FAILED, run.out
    assert run.result["error"] == ("secrets: app secret(s) DB_PORT: shorter than 6 characters, too short to redact "
                                   "from the output: use a longer value (nothing was changed)")
    assert run.result["pid"] == v1.result["pid"] and answer(server)["version"] == "v1"


def test_accepted_statuses_and_the_text_the_answer_must_hold(server: Server, world: World):
    v1 = commit(server, "v1", status=503)
    refused = deploy(server, world, v1, health_timeout=1)
    assert refused.code == ExitCode.FAILED and "answered 503 (accepted: 2xx)" in refused.result["error"]
    accepted = deploy(server, world, v1, health_status="2xx,503", health_contains='"mode": "prod"')
    assert accepted.code == ExitCode.OK, accepted.out
    assert accepted.result["health"] == "healthy" and accepted.result["health_code"] == 503
    # status judges as the deploy did: the same accepted codes and text make the same verdict
    status = deploy(server, world, v1, action="status", health_status="2xx,503", health_contains='"mode": "prod"')
    assert (status.result["health"], status.result["health_code"]) == ("healthy", 503), status.out
    strict = deploy(server, world, v1, action="status", health_contains='"mode": "dev"')
    assert (strict.result["health"], strict.result["health_code"]) == ("unhealthy", 503)
    assert "health unhealthy (answered 503 (accepted: 2xx))" in strict.out
    assert deploy(server, world, commit(server, "v2")).code == ExitCode.OK
    # v3 answers without the text; v2, put back, answers with it
    missing = deploy(server, world, commit(server, "v3"), health_contains='"version": "v2"', health_timeout=1)
    assert missing.code == ExitCode.ROLLED_BACK, missing.out
    assert "answered 200 without '\"version\": \"v2\"' in its body for 1s" in missing.result["error"]
    assert answer(server)["version"] == "v2"


def test_the_agent_zipapp_dispatches_launch_to_the_launcher(tmp_path: Path):
    """The service host's start command, ``agent.pyz --launch SPEC``, runs the app (here without secrets)."""
    spec = tmp_path / "launch.json"
    launcher.write_spec(str(spec), launcher.make_spec(
        [sys.executable, "-c", "import os; print('hello', os.environ['APP_MODE'])"], str(tmp_path),
        {"APP_MODE": "prod"}, {}, str(tmp_path / "app.log"), settings={}))
    agent = agent_zipapp(frozenset({"service-linux"}))  # the launcher ships with the service host
    done = subprocess.run([sys.executable, str(agent), "--launch", str(spec)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "hello prod" in (tmp_path / "app.log").read_text()
