"""The service host's launcher as a real process: secrets resolved from moto (auth on) through the
IMDSv2 stand-in at each start, the app exec'd (POSIX) or supervised (the Windows way, run here on
Linux), its output in the log, no value in the spec; and the app's last words."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ssm_action import payload
from ssm_action.agent import last_words, launcher
from ssm_action.agent.output import Redactor
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.agent.test_secrets import PY38

SECRETS = {"DB_URL": "ssm:/app/db-url", "API_KEY": "secretsmanager:app/keys#api_key"}
# Prints what it received (hashed), then exits with the code in argv[2] for its first argv[3] starts.
APP = '''import hashlib, json, os, sys
runs = os.path.join(os.getcwd(), "runs")
n = int(open(runs).read()) + 1 if os.path.exists(runs) else 1
open(runs, "w").write(str(n))
seen = {k: hashlib.sha256(os.environ.get(k, "").encode()).hexdigest() for k in ("DB_URL", "API_KEY")}
print(json.dumps({"pid": os.getpid(), "run": n, "mode": os.environ.get("APP_MODE"), **seen}), flush=True)
sys.exit(int(sys.argv[1]) if n <= int(sys.argv[2]) else 0)
'''


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def prepared(tmp_path: Path, world: World, secrets: dict[str, str], code: int = 0, failing_runs: int = 0,
             argv: list[str] | None = None) -> tuple[Path, dict]:
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    world.client()  # IMDS serves app-role
    spec = launcher.make_spec(argv or [sys.executable, str(app / "app.py"), str(code), str(failing_runs)],
                              str(app), {"APP_MODE": "prod"}, secrets, str(tmp_path / "app.log"),
                              str(tmp_path / "app.json"),
                              {"AWS_EC2_METADATA_SERVICE_ENDPOINT": world.imds.url, "AWS_ENDPOINT_URL": world.moto})
    path = tmp_path / "launch.json"
    launcher.write_spec(str(path), spec)
    return path, spec


def launch(tmp_path: Path, spec_path: Path, python: str = sys.executable) -> subprocess.Popen:
    """The launcher as the unit runs it, from the shipped zipapp (stand-in for `--launch`)."""
    agent = payload.write(tmp_path, frozenset({"service-linux"}))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from ssm_action.agent.launcher import main; "
            "sys.exit(main(sys.argv[2:]))")
    return subprocess.Popen([python, "-I", "-c", code, str(agent), str(spec_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


@pytest.mark.parametrize("python", [sys.executable, PY38], ids=["python", "python3.8"])
def test_the_launcher_resolves_the_secrets_and_becomes_the_app(tmp_path: Path, world: World, python: str):
    if not os.path.exists(python):
        pytest.skip(f"NO PYTHON 3.8 at {python}: the launcher NOT run under the oldest Python")
    spec_path, spec = prepared(tmp_path, world, SECRETS)
    proc = launch(tmp_path, spec_path, python)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    [app] = records(tmp_path / "app.log")
    assert app == {"pid": proc.pid, "run": 1, "mode": "prod", "DB_URL": sha(DB_URL), "API_KEY": sha(API_KEY)}
    assert json.loads((tmp_path / "app.json").read_text())["pid"] == proc.pid  # exec: the same process
    assert spec_path.stat().st_mode & 0o777 == 0o600
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert DB_URL.encode() not in path.read_bytes() and API_KEY.encode() not in path.read_bytes(), path


def test_a_secret_that_cannot_be_read_stops_the_start_with_the_reason(tmp_path: Path, world: World):
    spec_path, _ = prepared(tmp_path, world, {"DB_URL": "ssm:/app/missing"})
    proc = launch(tmp_path, spec_path)
    assert proc.wait(timeout=60) == launcher.EX_CONFIG
    assert "cannot start: app secrets: DB_URL (ssm:/app/missing): not found in us-east-1" in proc.stderr.read()
    assert not (tmp_path / "app" / "runs").exists()  # the app never ran


def test_a_missing_command_is_named(tmp_path: Path, world: World):
    spec_path, _ = prepared(tmp_path, world, {}, argv=[str(tmp_path / "no-such-python")])
    assert launch(tmp_path, spec_path).wait(timeout=60) == launcher.EX_NOCMD
    assert f"launcher: cannot start {tmp_path / 'no-such-python'} in {tmp_path / 'app'}: [Errno 2]" \
        in (tmp_path / "app.log").read_text()


def test_supervision_restarts_a_crashing_app_reading_the_secrets_again(tmp_path: Path, world: World):
    spec_path, spec = prepared(tmp_path, world, SECRETS, code=3, failing_runs=2)
    pauses: list[float] = []
    with open(tmp_path / "app.log", "ab") as log:
        assert launcher.supervise(spec, log, {}, sleep=pauses.append) == 0
    runs = records(tmp_path / "app.log")
    assert [r["run"] for r in runs] == [1, 2, 3] and all(r["DB_URL"] == sha(DB_URL) for r in runs)
    assert pauses == [2.0, 4.0]
    assert (tmp_path / "app.log").read_text().count("the app exited with code 3") == 2
    assert sum(1 for method, path, _ in world.imds.requests if method == "PUT") == 3  # once per start
    assert json.loads((tmp_path / "app.json").read_text())["pid"] == runs[-1]["pid"]


def test_supervision_waits_for_secrets_that_cannot_be_read_yet(tmp_path: Path, world: World):
    spec_path, spec = prepared(tmp_path, world, SECRETS)
    world.client("ssm-only")  # the API key is denied until the second pause
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            world.client()

    with open(tmp_path / "app.log", "ab") as log:
        assert launcher.supervise(spec, log, {}, sleep=pause) == 0
    assert pauses == [1.0, 2.0]
    text = (tmp_path / "app.log").read_text()
    assert text.count("launcher: cannot read the app's secrets, trying again in ") == 2
    assert "API_KEY (secretsmanager:app/keys): access denied" in text
    [run] = records(tmp_path / "app.log")
    assert run["API_KEY"] == sha(API_KEY)


def test_supervision_gives_up_after_its_bound(tmp_path: Path, world: World):
    spec_path, spec = prepared(tmp_path, world, {}, code=1, failing_runs=99)
    with open(tmp_path / "app.log", "ab") as log:
        assert launcher.supervise(spec, log, {}, sleep=lambda s: None, restarts=2) == 1
    assert [r["run"] for r in records(tmp_path / "app.log")] == [1, 2, 3]


# --- last words

def test_the_last_words_of_an_app_that_cannot_import(tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_bytes(b"old output of an earlier start\n")
    offset = log.stat().st_size
    with open(log, "ab") as out:
        code = subprocess.run([sys.executable, "-c", f"print('connecting to {DB_URL}'); import waitress_nope"],
                              stdout=out, stderr=subprocess.STDOUT).returncode
    lines = last_words.last_lines(last_words.read_since(str(log), offset), Redactor([DB_URL]))
    assert "old output" not in " ".join(lines)
    assert lines[0] == "connecting to ***" and DB_URL not in " ".join(lines)
    assert last_words.exit_message(code, lines) == \
        "the app exited with code 1: ModuleNotFoundError: No module named 'waitress_nope'"


def test_a_silent_death_and_a_plain_last_line():
    assert last_words.exit_message(None, []) == "the app exited without a word"
    assert last_words.exit_message(2, ["starting", "port 8000 is taken"]) == \
        "the app exited with code 2: port 8000 is taken"
    assert last_words.cause(["Traceback (most recent call last):", '  File "x"', "KeyError: 'DB_URL'",
                             "cleanup done"]) == "KeyError: 'DB_URL'"


@pytest.mark.parametrize("secret", ["s3cr3t-pw-line1\ns3cr3t-pw-line2"])
def test_a_value_over_two_lines_is_redacted_whole(secret: str):
    assert last_words.last_lines(f"before\n{secret}\nafter", Redactor([secret])) == ["before", "***", "after"]
