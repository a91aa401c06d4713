"""The systemd service host: the unit text, and the real thing in a container with systemd as PID 1
(install, start with secrets resolved by the launcher, restart after ``systemctl kill``, a rollback
of the definition, stop, removal), the agent's modules run there by the container's python3."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssm_action.agent import launcher, systemd
from ssm_action.agent.errors import StepError
from tests.agent.agent_fixtures import free_port, http_get
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.agent.systemd_container import SystemdContainer, agent_folder, build_image, podman
from tests.containers import podman_available

LAUNCH = ["/usr/bin/python3", "-I", "/opt/agent/launch.py", "/srv/app.deploy/launch.json"]
APP = '''import hashlib, json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def digest(name):
    return hashlib.sha256(os.environ.get(name, "").encode()).hexdigest()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"pid": os.getpid(), "mode": os.environ.get("APP_MODE"),
                           "DB_URL": digest("DB_URL"), "API_KEY": digest("API_KEY")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


print("notes app listening", flush=True)
HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the unit text

def test_the_unit_restarts_on_failure_starts_at_boot_and_runs_in_the_app_folder():
    text = systemd.unit_text("notes (ssm-deploy-action)", ["/srv/notes/.venv/bin/waitress-serve",
                             "--listen=127.0.0.1:8000", "notes:app"], "/srv/notes", user="notes",
                             stop_timeout=20)
    lines = text.splitlines()
    for wanted in ("Restart=on-failure", "WantedBy=multi-user.target", "WorkingDirectory=/srv/notes",
                   "User=notes", "TimeoutStopSec=20", "Type=simple", "After=network-online.target",
                   "ExecStart=/srv/notes/.venv/bin/waitress-serve --listen=127.0.0.1:8000 notes:app"):
        assert wanted in lines, wanted
    assert lines.index("[Service]") < lines.index("Restart=on-failure") < lines.index("[Install]")
    assert "User=" not in systemd.unit_text("x", ["/bin/true"], "/srv/x")  # root unless given


def test_exec_start_words_are_quoted_and_specifiers_escaped():
    assert systemd.quote("/srv/my app/run") == '"/srv/my app/run"'
    assert systemd.quote("50%") == "50%%"
    assert systemd.quote("$HOME") == '"$$HOME"'
    assert systemd.quote('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
    assert systemd.quote(";") == "\\;"
    assert systemd.quote("-m") == "-m"
    assert systemd.quote("-bin/app", first=True) == '"-bin/app"'  # not the "ignore failure" prefix
    with pytest.raises(StepError, match="cannot go into a systemd unit"):
        systemd.quote("two\nlines")
    with pytest.raises(StepError, match="not a Linux user name"):
        systemd.unit_text("x", ["/bin/true"], "/srv/x", user="root; rm")
    assert systemd.unit_name("my notes") == "ssm-app-my_notes.service"


def test_not_pid1_is_a_clear_error(tmp_path: Path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "comm").write_text("bash\n")
    assert systemd.systemd_is_pid1(str(tmp_path), str(tmp_path / "no-run")) == "bash"
    (tmp_path / "run").mkdir()
    (tmp_path / "1" / "comm").write_text("systemd\n")
    assert systemd.systemd_is_pid1(str(tmp_path), str(tmp_path / "run")) is None


# --- systemd for real

@pytest.fixture(scope="module")
def systemd_image() -> str:
    if not podman_available():
        message = ("SYSTEMD HOST NOT RUN FOR REAL: podman and mmdebstrap are not installed "
                   "(scripts/test.sh and .ci/run install them)")
        if os.environ.get("SSM_ACTION_REQUIRE_CONTAINER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return build_image()


@pytest.fixture
def box(systemd_image: str, tmp_path: Path) -> Iterator[tuple[SystemdContainer, Path]]:
    """A booted container; the host folder ``srv`` is its /srv (the app and its state)."""
    srv = tmp_path / "srv"
    (srv / "app").mkdir(parents=True)
    (srv / "app.deploy" / "logs").mkdir(parents=True)
    (srv / "app" / "app.py").write_text(APP)
    container = SystemdContainer(agent_folder(tmp_path / "agent"), srv)
    try:
        container.start(systemd_image)
        yield container, srv
    finally:
        container.stop()


def write_spec(srv: Path, world: World, port: int, secrets: dict[str, str], owner: int | None = None) -> None:
    world.client()  # the IMDS stand-in serves app-role's credentials
    spec = launcher.make_spec(
        ["/usr/bin/python3", "/srv/app/app.py", str(port)], "/srv/app", {"APP_MODE": "prod"}, secrets,
        "/srv/app.deploy/logs/app.log", "/srv/app.deploy/app.json",
        {"AWS_EC2_METADATA_SERVICE_ENDPOINT": world.imds.url, "AWS_ENDPOINT_URL": world.moto})
    launcher.write_spec(str(srv / "app.deploy" / "launch.json"), spec, owner)


def wait_for(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s")


def serving(port: int) -> dict | None:
    answer = http_get(f"http://127.0.0.1:{port}/", timeout=2)
    return json.loads(answer[1]) if answer and answer[0] == 200 else None


@pytest.mark.slow
@pytest.mark.container
def test_the_unit_installs_starts_restarts_rolls_back_stops_and_goes(box, world: World):
    container, srv = box
    name = "ssm-app-notes.service"
    port = free_port()
    write_spec(srv, world, port, {"DB_URL": "ssm:/app/db-url", "API_KEY": "secretsmanager:app/keys#api_key"})
    first = systemd.unit_text("notes v1", LAUNCH, "/srv/app", stop_timeout=5)
    assert container.drive("check", name=name) == {"ok": None}
    assert container.drive("install", name=name, text=first) == {"ok": f"unit {name} installed"}
    assert container.drive("start", name=name)["ok"].startswith(f"started {name} (pid ")
    app = wait_for(lambda: serving(port))
    assert app == {"pid": app["pid"], "mode": "prod", "DB_URL": sha(DB_URL), "API_KEY": sha(API_KEY)}
    state = container.drive("state", name=name)["ok"]
    assert state["active"] and state["restarts"] == 0 and state["unit"] == first
    assert container.sh(f"systemctl is-enabled {name}").stdout.strip() == "enabled"
    # The launcher exec'd the app: systemd's MainPID is the app (pid namespaces differ, so
    # compare the container's view of the app's pid with the pid file the launcher wrote).
    assert json.loads((srv / "app.deploy" / "app.json").read_text())["pid"] == state["pid"]
    for path in srv.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert DB_URL.encode() not in data and API_KEY.encode() not in data, path
    assert (srv / "app.deploy" / "launch.json").stat().st_mode & 0o777 == 0o600

    container.sh(f"systemctl kill --signal=KILL {name}")
    again = wait_for(lambda: (s := container.drive("state", name=name)["ok"])["restarts"] >= 1
                     and s["active"] and s["pid"] != state["pid"] and s)
    assert wait_for(lambda: serving(port))["DB_URL"] == sha(DB_URL)  # secrets resolved again

    second = systemd.unit_text("notes v2", LAUNCH, "/srv/app", stop_timeout=7)
    assert container.drive("install", name=name, text=second) == {"ok": f"unit {name} replaced"}
    assert container.drive("restore", name=name) == {"ok": f"unit {name} restored"}
    assert container.drive("state", name=name)["ok"]["unit"] == first
    assert container.sh(f"systemctl show -p Description --value {name}").stdout.strip() == "notes v1"

    assert container.drive("stop", name=name) == {"ok": f"stopped {name}"}
    assert not container.drive("state", name=name)["ok"]["active"] and serving(port) is None
    assert container.drive("remove", name=name) == {"ok": f"unit {name} removed"}
    assert container.sh(f"test -e /etc/systemd/system/{name}", check=False).returncode == 1
    assert container.sh(f"systemctl cat {name}", check=False).returncode != 0
    assert again["pid"] != state["pid"]


@pytest.mark.slow
@pytest.mark.container
def test_a_secret_that_cannot_be_read_keeps_the_app_down_with_the_reason_in_its_log(box, world: World):
    container, srv = box
    name = "ssm-app-notes.service"
    port = free_port()
    write_spec(srv, world, port, {"DB_URL": "ssm:/app/missing"})
    container.drive("install", name=name, text=systemd.unit_text("notes", LAUNCH, "/srv/app"))
    container.drive("start", name=name)
    log = srv / "app.deploy" / "logs" / "app.log"
    wait_for(lambda: log.exists() and "cannot start" in log.read_text())
    assert "launcher: cannot start: app secrets: DB_URL (ssm:/app/missing): not found in us-east-1" \
        in log.read_text()
    assert serving(port) is None and not container.drive("state", name=name)["ok"]["active"]


@pytest.mark.slow
@pytest.mark.container
def test_a_unit_whose_secrets_come_late_keeps_trying_and_starts_once_they_can_be_read(box, world: World):
    """At boot the role or the network may come after the unit: the launcher fails (78), systemd starts
    it again every 2 s (RestartSec=2 keeps it under the default start limit of 5 in 10 s, which would
    give up for good), and the app comes up once AWS answers."""
    container, srv = box
    name = "ssm-app-late.service"
    port = free_port()
    write_spec(srv, world, port, {"API_KEY": "secretsmanager:app/keys#api_key"})
    world.client("ssm-only")  # GetSecretValue denied for now
    container.drive("install", name=name, text=systemd.unit_text("notes", LAUNCH, "/srv/app"))
    container.drive("start", name=name)
    log = srv / "app.deploy" / "logs" / "app.log"
    wait_for(lambda: log.exists() and log.read_text().count("cannot start") >= 7, timeout=40)  # > 10 s of tries
    world.client("app-role")
    assert wait_for(lambda: serving(port), timeout=30)
    container.drive("remove", name=name)


@pytest.mark.slow
@pytest.mark.container
def test_without_systemd_as_pid1_the_host_says_so(systemd_image: str, tmp_path: Path):
    agent = agent_folder(tmp_path / "agent")
    done = podman("run", "--rm", "-v", f"{agent}:/opt/agent:ro", systemd_image, "python3",
                  "/opt/agent/drive.py", "check", json.dumps({"name": "x.service"}))
    assert json.loads(done.stdout) == {"error": (
        "app host is service but systemd is not PID 1 here (PID 1 is python3): boot the server "
        "with systemd, or use app-host process")}


@pytest.mark.slow
@pytest.mark.container
def test_the_unit_runs_the_app_as_the_given_user_with_a_spec_only_it_reads(box, world: World):
    container, srv = box
    name = "ssm-app-notes.service"
    port = free_port()
    write_spec(srv, world, port, {"DB_URL": "ssm:/app/db-url"}, owner=65534)  # nobody in Debian
    log = srv / "app.deploy" / "logs" / "app.log"
    log.touch()
    os.chown(log, 65534, -1)
    container.drive("install", name=name, text=systemd.unit_text("notes", LAUNCH, "/srv/app", user="nobody"))
    container.drive("start", name=name)
    assert wait_for(lambda: serving(port))["DB_URL"] == sha(DB_URL)
    pid = container.drive("state", name=name)["ok"]["pid"]
    assert container.sh(f"stat -c %U /proc/{pid}").stdout.strip() == "nobody"
    assert container.sh("stat -c '%U %a' /srv/app.deploy/launch.json").stdout.strip() == "nobody 600"
    # The state folder is root's: the pid file is skipped, the start is not (systemd has MainPID).
    assert "launcher: cannot write the pid file: [Errno 13] Permission denied" in log.read_text()
