"""One systemd unit / scheduled task per app FOLDER: two folders with the same name (/srv/a/web,
/srv/b/web) get two names, and the unit or task an older agent named after the folder's name alone
is taken over (removed, its definition under the new name), never left running beside the new one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ssm_action.agent import scheduled_task as st
from ssm_action.agent import service as service_module
from ssm_action.agent.files import StateDir
from ssm_action.agent.host import Platform
from ssm_action.agent.layout import Layout
from ssm_action.agent.output import Redactor, Reporter
from ssm_action.agent.posix import PosixPlatform
from ssm_action.agent.shell import Ran, Shell
from ssm_action.agent.windows import WindowsPlatform
from ssm_action.contract import parse_params


class SchtasksStandIn:
    """Stands in for Shell.run with schtasks.exe behind it: every task's XML by name, the calls."""

    def __init__(self, tasks: dict[str, str]) -> None:
        self.tasks = tasks
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], timeout: float = 0) -> Ran:
        self.calls.append(argv[1:])
        verb, name = argv[1], argv[3]
        if verb == "/Query":
            return Ran(0, self.tasks[name], "") if name in self.tasks else Ran(1, "", "ERROR: not found")
        if verb == "/Create":
            self.tasks[name] = Path(argv[argv.index("/XML") + 1]).read_bytes().decode("utf-16")
        if verb == "/Delete":
            del self.tasks[name]
        return Ran(0, "SUCCESS", "")


def service(tmp_path: Path, plat: Platform, app_dir: str, run: Any) -> service_module.Service:
    host = "task" if plat.name == "windows" else "service"  # Windows' service host is the SCM (test_winservice)
    checked, errors = parse_params({"deploy_id": "7-1", "app_dir": app_dir, "sha": "c" * 40, "platform": plat.name,
                                    "app_host": host})
    assert checked is not None, errors
    state = tmp_path / str(abs(hash(app_dir)))
    state.mkdir()
    shell = Shell(Reporter(Redactor()))
    shell.run = run  # type: ignore[method-assign]
    return service_module.Service(plat, shell, StateDir(str(state)), Layout.of(checked), checked)


def test_two_folders_with_one_name_get_two_units_and_two_tasks(tmp_path: Path):
    names = {service(tmp_path, PosixPlatform(), d, None).host.name for d in ("/srv/a/web", "/srv/b/web")}
    assert len(names) == 2 and all(n.startswith("ssm-app-web-") and n.endswith(".service") for n in names)
    tasks = {service(tmp_path, WindowsPlatform(), d, None).host.name.lower()  # Windows: names and paths in any case
             for d in ("C:\\a\\web", "C:\\b\\web", "c:\\A\\WEB")}
    assert len(tasks) == 2 and all(n.startswith("\\ssm-deploy\\web-") for n in tasks)


def old_task(cwd: str, user: str | None = None) -> str:
    return st.task_xml("web 1234 (ssm-deploy-action)", ["C:\\py\\python.exe", "-I", "agent.pyz"], cwd, user)


def test_the_task_an_older_agent_named_after_the_folder_is_taken_over_by_its_own_folder_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    schtasks = SchtasksStandIn({"\\ssm-deploy\\web": old_task("C:\\b\\web")})
    other = service(tmp_path, WindowsPlatform(), "C:\\a\\web", schtasks)
    assert other.stop() == "no service"  # the old task runs another folder's app: left alone
    assert list(schtasks.tasks) == ["\\ssm-deploy\\web"]

    schtasks.tasks["\\ssm-deploy\\web"] = ours = old_task("C:\\b\\web", "CORP\\svc-web")
    host = service(tmp_path, WindowsPlatform(), "C:\\b\\web", schtasks)
    schtasks.calls.clear()
    assert host.stop() == ("task \\ssm-deploy\\web removed, its definition now %s; ended task %s" % (
        host.host.name, host.host.name))
    assert schtasks.tasks == {host.host.name: ours}  # one task: the old one's definition, under the new name
    assert [c[0] for c in schtasks.calls if c[0] != "/Query"] == ["/End", "/Delete", "/Create", "/End"]
    create = next(c for c in schtasks.calls if c[0] == "/Create")
    assert "/RU" not in create  # the account's S4U logon, from the old definition
    monkeypatch.setattr(service_module, "shipped_agent", lambda: __file__)
    host.install(["C:\\b\\web\\.venv\\Scripts\\pythonw.exe", "app.py"], {}, {}, "d" * 40)
    assert host.restore_previous() == "task %s restored" % host.host.name  # a rollback: the old definition
    assert schtasks.tasks == {host.host.name: ours}
