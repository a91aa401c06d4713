"""``app_host: service`` through the agent's deploy: for real in a Debian container with systemd as PID 1 (install,
start with the secrets resolved by the launcher, a crashing commit rolled back to the previous definition, kill
and restart), and on Windows by the task's XML and the schtasks calls (Task Scheduler is never executed here)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ssm_action.agent import service as service_module
from ssm_action.agent.files import StateDir
from ssm_action.agent.layout import Layout
from ssm_action.agent.output import Redactor, Reporter
from ssm_action.agent.shell import Shell
from ssm_action.agent.windows import WindowsPlatform
from ssm_action.contract import AgentParams, parse_params
from tests.agent.agent_fixtures import free_port, git, parse_result
from tests.agent.aws_world import API_KEY, DB_URL, World, world_fixture  # noqa: F401 # fixture "world"
from tests.agent.test_scheduled_task import NS, SchtasksStandIn, parsed, text
from tests.agent.systemd_container import SystemdContainer, agent_folder, podman
from tests.agent.test_app_deploy import SECRETS, SERVE, sha
from tests.agent.test_systemd_host import serving, systemd_image, wait_for  # noqa: F401 # fixture

UNIT = "ssm-app-app-%s.service" % hashlib.sha256(b"/srv/app").hexdigest()[:8]  # the folder's name, its path's hash
OLD_UNIT = "ssm-app-app.service"  # as an older agent named it: the folder's name alone
TASK = "\\ssm-deploy\\notes-%s" % hashlib.sha256(b"c:\\apps\\notes").hexdigest()[:8]  # of C:\apps\notes


# --- Windows: the task's definition and the schtasks calls

def windows_service(tmp_path: Path, **params: Any) -> tuple[service_module.Service, SchtasksStandIn]:
    raw = {"deploy_id": "7-1", "app_dir": "C:\\apps\\notes", "sha": "c" * 40, "platform": "windows",
           "app_command": ["waitress-serve", "--listen=127.0.0.1:8000", "app:app"], "app_host": "task",
           "app_secrets": SECRETS, **params}
    checked, errors = parse_params(raw)
    assert checked is not None, errors
    state = tmp_path / "notes.deploy"
    (state / "logs").mkdir(parents=True)
    where = Layout.of(checked)._replace(state_dir=str(state), app_log=str(state / "logs" / "app.log"))
    standin = SchtasksStandIn()
    shell = Shell(Reporter(Redactor()))
    shell.run = standin  # type: ignore[method-assign]
    return service_module.Service(WindowsPlatform(), shell, StateDir(str(state)), where, checked), standin


def test_the_windows_task_runs_the_launcher_at_boot_as_the_account_without_a_time_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(service_module, "shipped_agent", lambda: __file__)  # any file stands in for the zipapp
    host, schtasks = windows_service(tmp_path, app_user="CORP\\svc-notes")
    argv = ["C:\\apps\\notes\\.venv\\Scripts\\waitress-serve.exe", "--listen=127.0.0.1:8000", "app:app"]
    assert host.install(argv, {"NOTES_MODE": "production"}, SECRETS, "c" * 40) == f"task {TASK} installed"
    root = parsed(schtasks.registered or "")
    agent, spec = str(tmp_path / "notes.deploy" / "agent.pyz"), str(tmp_path / "notes.deploy" / "launch.json")
    assert text(root, "t:Actions/t:Exec/t:Command") == sys.executable
    assert text(root, "t:Actions/t:Exec/t:Arguments") == f"-I {agent} --launch {spec}"
    assert text(root, "t:Actions/t:Exec/t:WorkingDirectory") == "C:\\apps\\notes"
    assert text(root, "t:Settings/t:ExecutionTimeLimit") == "PT0S"
    assert text(root, "t:Settings/t:RestartOnFailure/t:Count") == "255"
    assert root.find("t:Triggers/t:BootTrigger", NS) is not None
    assert (text(root, "t:Principals/t:Principal/t:UserId"), text(root, "t:Principals/t:Principal/t:LogonType")) \
        == ("CORP\\svc-notes", "S4U")
    create = next(call for call in schtasks.calls if call[1] == "/Create")
    assert "/RU" not in create and create[-1] == "/F"  # the account's S4U logon comes from the XML
    launch = json.loads(Path(spec).read_text())
    assert launch["argv"] == argv and launch["secrets"] == SECRETS and launch["env"] == {"NOTES_MODE": "production"}
    assert DB_URL not in (schtasks.registered or "") and DB_URL not in Path(spec).read_text()

    host.start()
    host.stop()
    assert [call[1] for call in schtasks.calls][-3:] == ["/Run", "/Query", "/End"]  # stop: only a task there
    # A second install keeps the first definition; the rollback registers it again.
    first = schtasks.registered
    host.install(argv + ["--threads=8"], {}, SECRETS, "d" * 40)
    assert "--threads=8" in json.loads(Path(spec).read_text())["argv"]
    assert host.restore_previous() == f"task {TASK} restored"
    assert schtasks.registered == first and json.loads(Path(spec).read_text())["argv"] == argv


def test_the_windows_task_runs_as_system_without_an_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(service_module, "shipped_agent", lambda: __file__)
    host, schtasks = windows_service(tmp_path)
    host.install(["C:\\apps\\notes\\.venv\\Scripts\\pythonw.exe", "C:\\apps\\notes\\app.py"], {}, {}, "c" * 40)
    assert text(parsed(schtasks.registered or ""), "t:Principals/t:Principal/t:UserId") == "S-1-5-18"
    assert next(call for call in schtasks.calls if call[1] == "/Create")[-2:] == ["/RU", "SYSTEM"]


# --- Linux: systemd for real, through the agent's deploy

class Box:
    """A booted systemd container whose /srv is a host folder; the agent run in it with ``podman exec``."""

    def __init__(self, container: SystemdContainer, srv: Path, world: World) -> None:
        self.container, self.srv, self.world = container, srv, world
        self.port = free_port()
        self.ids = iter(range(1, 100))

    def deploy(self, sha_: str, **params: Any) -> dict[str, Any]:
        raw = {"deploy_id": f"{next(self.ids)}-1", "app_dir": "/srv/app", "git_remote": "/srv/origin",
               "branch": "main", "sha": sha_, "platform": "linux", "installer": "pip", "app_host": "service",
               "app_command": ["serve.py", str(self.port)], "app_env": {"APP_MODE": "prod"},
               "app_secrets": SECRETS, "health_url": f"http://127.0.0.1:{self.port}/", "health_timeout": 20,
               "start_grace": 1, "stop_timeout": 5, **params}
        (self.srv / "params.json").write_text(json.dumps(raw))
        self.world.client()
        done = podman("exec", "-e", f"AWS_EC2_METADATA_SERVICE_ENDPOINT={self.world.imds.url}",
                      "-e", f"AWS_ENDPOINT_URL={self.world.moto}", "-e", "PIP_NO_INDEX=1", self.container.name,
                      "python3", "/opt/agent/agent.pyz", "--params-file", "/srv/params.json", check=False,
                      timeout=300)
        result = parse_result(done.stdout)
        assert result is not None, done.stdout + done.stderr
        return {**result, "out": done.stdout, "code": done.returncode}

    def unit(self, prop: str) -> str:
        return self.container.sh(f"systemctl show -p {prop} --value {UNIT}").stdout.strip()


@pytest.fixture
def box(systemd_image: str, tmp_path: Path, world: World):  # noqa: F811 # the fixture above
    srv = tmp_path / "srv"
    srv.mkdir()
    container = SystemdContainer(agent_folder(tmp_path / "agent"), srv)
    try:
        container.start(systemd_image)
        yield Box(container, srv, world)
    finally:
        container.stop()


def commit(origin: Path, version: str, prelude: str = "") -> str:
    origin.mkdir(exist_ok=True)
    if not (origin / ".git").exists():
        git(origin, "init", "-q", "-b", "main")
    (origin / "serve.py").write_text(SERVE.format(version=version, status=200, prelude=prelude))
    (origin / "tinydep.py").write_text('VERSION = "none"\n')
    (origin / "requirements.txt").write_text("# the stdlib only\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", version)
    return git(origin, "rev-parse", "HEAD")


@pytest.mark.slow
@pytest.mark.container
def test_the_agent_deploys_a_service_restarts_it_and_rolls_back_its_definition(box: Box):
    v1 = commit(box.srv / "origin", "v1")
    first = box.deploy(v1)
    assert first["status"] == "success", first["out"]
    app = wait_for(lambda: serving(box.port))
    assert (app["version"], app["mode"], app["DB_URL"], app["API_KEY"]) == ("v1", "prod", sha(DB_URL), sha(API_KEY))
    assert box.container.sh(f"systemctl is-enabled {UNIT}").stdout.strip() == "enabled"
    assert box.unit("Description") == f"app {v1[:12]} (ssm-deploy-action)"
    assert first["pid"] == int(box.unit("MainPID"))  # the launcher exec'd the app: the unit's main process
    assert "ExecStart=/usr/bin/python3 -I /srv/app.deploy/agent.pyz --launch /srv/app.deploy/launch.json" in \
        box.container.sh(f"systemctl cat {UNIT}").stdout

    box.container.sh(f"systemctl kill --signal=KILL {UNIT}")
    again = wait_for(lambda: box.unit("MainPID") not in ("0", str(first["pid"])) and serving(box.port))
    assert again["DB_URL"] == sha(DB_URL) and int(box.unit("NRestarts")) >= 1  # back, secrets read again

    v2 = commit(box.srv / "origin", "v2", prelude='raise SystemExit("v2 cannot start: no config")')
    second = box.deploy(v2)
    assert second["status"] == "rolled_back", second["out"]
    assert second["error"] == "verify: the app exited with code 1: v2 cannot start: no config"
    assert box.unit("Description") == f"app {v1[:12]} (ssm-deploy-action)"  # the previous definition is back
    assert wait_for(lambda: serving(box.port))["version"] == "v1"
    for path in box.srv.rglob("*"):
        if path.is_file():
            assert DB_URL.encode() not in path.read_bytes() and API_KEY.encode() not in path.read_bytes(), path
    assert DB_URL not in first["out"] + second["out"]


@pytest.mark.slow
@pytest.mark.container
def test_the_unit_an_older_agent_named_after_the_folder_is_replaced_not_left_running(box: Box):
    first = box.deploy(commit(box.srv / "origin", "v1"))
    assert first["status"] == "success", first["out"]
    box.container.sh(f"systemctl disable --now {UNIT} && mv /etc/systemd/system/{UNIT} /etc/systemd/system/{OLD_UNIT}"
                     f" && systemctl daemon-reload && systemctl enable --now {OLD_UNIT}")
    assert wait_for(lambda: serving(box.port))["version"] == "v1"  # the older agent's unit runs the app
    second = box.deploy(commit(box.srv / "origin", "v2"))
    assert second["status"] == "success", second["out"]
    assert f"unit {OLD_UNIT} removed, its definition now {UNIT}; stopped {UNIT}" in second["out"]
    assert box.container.sh(f"systemctl is-active {OLD_UNIT}; test -e /etc/systemd/system/{OLD_UNIT} && echo there",
                            check=False).stdout.split() == ["inactive"]
    assert wait_for(lambda: serving(box.port))["version"] == "v2" and second["pid"] == int(box.unit("MainPID"))
    third = box.deploy(commit(box.srv / "origin", "v3", prelude='raise SystemExit("v3 cannot start")'))
    assert third["status"] == "rolled_back", third["out"]  # the definition put back: v2's, under the new name
    assert wait_for(lambda: serving(box.port))["version"] == "v2"


# --- a switch of app-host from service to process: the old host removed, kept for a rollback

def test_a_retired_task_is_ended_deleted_and_kept_and_a_rollback_registers_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(service_module, "shipped_agent", lambda: __file__)
    host, schtasks = windows_service(tmp_path)
    argv = ["C:\\apps\\notes\\.venv\\Scripts\\waitress-serve.exe", "app:app"]
    host.install(argv, {}, SECRETS, "c" * 40)
    first, spec = schtasks.registered, Path(host.spec)
    schtasks.calls.clear()
    assert host.retire() == (f"ended task {TASK}; task {TASK} removed "
                             "(app host is process now)")
    assert [call[1] for call in schtasks.calls] == ["/Query", "/Query", "/End", "/Query", "/End", "/Delete"]
    assert schtasks.registered is None and not spec.exists()  # no task starts the old definition at boot
    assert host.retire() == ""  # nothing left to retire
    assert host.restore_previous() == f"task {TASK} restored"
    assert schtasks.registered == first and json.loads(spec.read_text())["argv"] == argv


def process_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, SchtasksStandIn]:
    """The App of a deploy with app_host process on a server whose earlier deploy installed the task."""
    from ssm_action.agent.app import App
    from ssm_action.agent.journal import DeployState
    monkeypatch.setattr(service_module, "shipped_agent", lambda: __file__)
    host, schtasks = windows_service(tmp_path)
    host.install(["C:\\apps\\notes\\.venv\\Scripts\\waitress-serve.exe", "app:app"], {}, SECRETS, "c" * 40)
    params = dataclasses.replace(host_params(), app_host="process")
    app = App(WindowsPlatform(), host_shell(schtasks), host.records, host.where, params, DeployState("8-1", "d" * 40))
    return app, schtasks


def host_params() -> AgentParams:
    checked, errors = parse_params({"deploy_id": "8-1", "app_dir": "C:\\apps\\notes", "sha": "d" * 40,
                                    "platform": "windows", "app_command": ["waitress-serve", "app:app"],
                                    "app_secrets": SECRETS})
    assert checked is not None, errors
    return checked


def host_shell(standin: SchtasksStandIn) -> Shell:
    shell = Shell(Reporter(Redactor()))
    shell.run = standin  # type: ignore[method-assign]
    return shell


def test_a_deploy_as_a_process_retires_the_earlier_service_and_its_rollback_brings_it_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    app, schtasks = process_app(tmp_path, monkeypatch)
    assert app.retire().endswith("removed (app host is process now); ")
    assert schtasks.registered is None and app.retired is not None
    back = app.as_started_with(dataclasses.replace(app.p, app_host="task"))  # the version put back ran as the task
    assert back.installed  # so its start restores the kept definition instead of leaving none
    assert back.service.restore_previous() == f"task {TASK} restored" and schtasks.registered


def test_without_the_service_modules_the_retire_says_what_is_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import ssm_action.agent
    app, schtasks = process_app(tmp_path, monkeypatch)
    monkeypatch.delattr(ssm_action.agent, "service")  # as in a process host's zipapp: no service.py
    monkeypatch.setitem(sys.modules, "ssm_action.agent.service", None)
    assert app.retire() == "an app-host service of an earlier deploy is still installed: remove it by hand; "
    assert schtasks.registered is not None and app.retired is None


@pytest.mark.slow
@pytest.mark.container
def test_a_switch_to_a_process_removes_the_unit_and_a_rollback_to_the_service_restores_it(box: Box):
    v1 = commit(box.srv / "origin", "v1")
    assert box.deploy(v1)["status"] == "success"
    assert wait_for(lambda: serving(box.port))["version"] == "v1"
    # v2 runs as a process and cannot start: the rollback puts v1 back as it ran, the unit enabled again
    v2 = commit(box.srv / "origin", "v2", prelude='raise SystemExit("v2 cannot start")')
    bad = box.deploy(v2, app_host="process")
    assert bad["status"] == "rolled_back", bad["out"]
    assert "removed (app host is process now)" in bad["out"]
    assert box.container.sh(f"systemctl is-enabled {UNIT}").stdout.strip() == "enabled"
    assert box.unit("Description") == f"app {v1[:12]} (ssm-deploy-action)" and box.unit("ActiveState") == "active"
    assert wait_for(lambda: serving(box.port))["version"] == "v1"
    # v3 runs as a process: no unit is left to start the old definition at the next boot
    v3 = commit(box.srv / "origin", "v3")
    good = box.deploy(v3, app_host="process")
    assert good["status"] == "success", good["out"]
    gone = box.container.sh(f"systemctl is-enabled {UNIT}", check=False)
    assert gone.stdout.strip() in ("", "not-found") and box.unit("LoadState") == "not-found", gone
    assert wait_for(lambda: serving(box.port))["version"] == "v3"
    assert box.unit("MainPID") == "0" and good["pid"] != 0
