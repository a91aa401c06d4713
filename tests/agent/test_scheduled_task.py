"""The Windows service host, checked without Windows: the task XML (parsed) and the exact schtasks
calls, through a stand-in for the agent's Shell that records each command and answers as schtasks
does. Task Scheduler itself is never executed here (not in Wine either)."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ssm_action import payload
from ssm_action.agent import scheduled_task as st
from ssm_action.agent import systemd
from ssm_action.agent.errors import StepError
from ssm_action.agent.shell import Ran
from tests.agent.test_secrets import PY38

NS = {"t": st.TASK_NS}
SCHTASKS = "C:\\Windows\\System32\\schtasks.exe"
ARGV = ["C:\\apps\\notes.deploy\\python\\pythonw.exe", "C:\\apps\\notes.deploy\\agent.pyz", "--launch",
        "C:\\apps\\notes.deploy\\launch.json"]


class SchtasksStandIn:
    """Stands in for Shell.run with schtasks.exe behind it: records argv, keeps one task's XML."""

    def __init__(self, registered: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.registered = registered
        self.name = ""  # the task's name once created ("" answers to any)

    def __call__(self, argv: list[str], timeout: float = 0) -> Ran:
        verb = argv[1]
        if verb == "/Query" and self.name and argv[3] != self.name:
            return Ran(1, "", "ERROR: The system cannot find the file specified.")  # another task: none
        self.calls.append(argv)
        if verb == "/Query":
            return Ran(0, self.registered, "") if self.registered else Ran(
                1, "", "ERROR: The system cannot find the file specified.")
        if verb == "/Create":
            self.name = argv[3]
            self.registered = Path(argv[argv.index("/XML") + 1]).read_bytes().decode("utf-16")
        if verb == "/Delete":
            self.registered = None
        return Ran(0, "SUCCESS", "")


def parsed(xml: str) -> ET.Element:
    assert xml.startswith('<?xml version="1.0" encoding="UTF-16"?>\n')
    return ET.fromstring(xml.split("\n", 1)[1])


def text(root: ET.Element, path: str) -> str | None:
    found = root.find(path, NS)
    return None if found is None else found.text


def test_the_task_has_no_time_limit_restarts_starts_at_boot_and_runs_as_system():
    root = parsed(st.task_xml("notes (ssm-deploy-action)", ARGV, "C:\\apps\\notes"))
    assert root.tag == "{%s}Task" % st.TASK_NS and root.get("version") == "1.2"
    assert text(root, "t:Settings/t:ExecutionTimeLimit") == "PT0S"
    assert text(root, "t:Settings/t:RestartOnFailure/t:Interval") == "PT1M"
    assert text(root, "t:Settings/t:RestartOnFailure/t:Count") == "255"  # the schema's unsignedByte
    assert text(root, "t:Triggers/t:BootTrigger/t:Enabled") == "true"
    assert len(root.find("t:Triggers", NS)) == 1
    assert text(root, "t:Principals/t:Principal/t:UserId") == "S-1-5-18"
    assert text(root, "t:Principals/t:Principal/t:LogonType") == "ServiceAccount"
    assert text(root, "t:Settings/t:MultipleInstancesPolicy") == "IgnoreNew"
    assert text(root, "t:Settings/t:StopIfGoingOnBatteries") == "false"
    assert text(root, "t:Settings/t:DisallowStartIfOnBatteries") == "false"
    assert text(root, "t:Settings/t:IdleSettings/t:StopOnIdleEnd") == "false"
    assert text(root, "t:Settings/t:Priority") == "5"
    assert text(root, "t:Actions/t:Exec/t:Command") == ARGV[0]
    assert text(root, "t:Actions/t:Exec/t:Arguments") == " ".join(ARGV[1:])
    assert text(root, "t:Actions/t:Exec/t:WorkingDirectory") == "C:\\apps\\notes"


def test_a_given_account_runs_without_a_stored_password():
    root = parsed(st.task_xml("notes", ARGV, "C:\\apps\\notes", user="CORP\\svc-notes"))
    assert text(root, "t:Principals/t:Principal/t:UserId") == "CORP\\svc-notes"
    assert text(root, "t:Principals/t:Principal/t:LogonType") == "S4U"
    assert text(root, "t:Principals/t:Principal/t:RunLevel") == "LeastPrivilege"
    with pytest.raises(StepError, match="not a Windows account name"):
        st.task_xml("notes", ARGV, "C:\\apps\\notes", user="a&b")


def test_arguments_are_quoted_by_windows_rules_and_xml_escaped():
    argv = ["C:\\Program Files\\Python38\\pythonw.exe", "-m", "waitress", "--listen=127.0.0.1:8000",
            'say "<hi> & bye"', "C:\\my app\\"]
    xml = st.task_xml("a <b> & c", argv, "C:\\my app")
    root = parsed(xml)
    assert text(root, "t:Actions/t:Exec/t:Command") == argv[0]
    assert text(root, "t:Actions/t:Exec/t:Arguments") == \
        '-m waitress --listen=127.0.0.1:8000 "say \\"<hi> & bye\\"" "C:\\my app\\\\"'
    assert "&lt;hi&gt; &amp; bye" in xml and text(root, "t:RegistrationInfo/t:Description") == "a <b> & c"


@pytest.mark.parametrize("cwd, spec", [("C:\\apps\\50%off", "C:\\apps\\50%off.deploy\\launch.json"),
                                       ("C:\\apps\\web", "C:\\apps\\%PATH%.deploy\\launch.json")])
def test_a_percent_task_scheduler_would_expand_is_refused(cwd: str, spec: str):
    with pytest.raises(StepError, match="holds a %, which Task Scheduler would expand as a variable"):
        st.task_xml("web", ["C:\\py\\python.exe", "-I", "agent.pyz", "--launch", spec], cwd)


def test_install_start_stop_rollback_and_remove_call_schtasks(tmp_path: Path):
    schtasks = SchtasksStandIn()
    task = st.ScheduledTask(st.task_name("notes"), schtasks, str(tmp_path / "tasks"))
    first = st.task_xml("notes v1", ARGV, "C:\\apps\\notes")
    assert task.install(first) == "task \\ssm-deploy\\notes installed"
    assert schtasks.calls == [
        [SCHTASKS, "/Query", "/TN", "\\ssm-deploy\\notes", "/XML"],
        [SCHTASKS, "/Create", "/TN", "\\ssm-deploy\\notes", "/XML", task.xml_path, "/F", "/RU", "SYSTEM"]]
    assert Path(task.xml_path).read_bytes()[:2] == b"\xff\xfe"  # UTF-16 with its BOM
    assert task.start() == "started task \\ssm-deploy\\notes"
    assert schtasks.calls[-1] == [SCHTASKS, "/Run", "/TN", "\\ssm-deploy\\notes"]

    second = st.task_xml("notes v2", ARGV, "C:\\apps\\notes", user="svc-notes")
    assert task.install(second, user="svc-notes") == "task \\ssm-deploy\\notes replaced"
    assert schtasks.calls[-1][-1] == "/F"  # the account comes from the XML (S4U), no /RU
    assert task.restore_previous() == "task \\ssm-deploy\\notes restored"
    assert schtasks.registered == first and schtasks.calls[-1][-2:] == ["/RU", "SYSTEM"]

    assert task.stop() == "ended task \\ssm-deploy\\notes"
    assert schtasks.calls[-1] == [SCHTASKS, "/End", "/TN", "\\ssm-deploy\\notes"]
    assert task.remove() == "task \\ssm-deploy\\notes removed"
    assert schtasks.calls[-1] == [SCHTASKS, "/Delete", "/TN", "\\ssm-deploy\\notes", "/F"]
    assert schtasks.registered is None and task.remove() == "no task \\ssm-deploy\\notes"


def test_a_rollback_of_a_first_install_removes_the_task(tmp_path: Path):
    schtasks = SchtasksStandIn()
    task = st.ScheduledTask(st.task_name("notes"), schtasks, str(tmp_path))
    task.install(st.task_xml("notes", ARGV, "C:\\apps\\notes"))
    assert task.restore_previous() == "task \\ssm-deploy\\notes removed"
    assert schtasks.registered is None


def test_a_refused_create_is_a_clear_error(tmp_path: Path):
    def refuse(argv: list[str], timeout: float = 0) -> Ran:
        return Ran(1, "", "ERROR: Access is denied.") if argv[1] != "/Query" else Ran(1, "", "")

    task = st.ScheduledTask(st.task_name("notes"), refuse, str(tmp_path))
    with pytest.raises(StepError, match=r"schtasks /Create failed \(exit 1\): ERROR: Access is denied."):
        task.install(st.task_xml("notes", ARGV, "C:\\apps\\notes"))


def test_the_state_is_read_through_powershell_not_localised_text(tmp_path: Path):
    calls = []

    def powershell(argv: list[str], timeout: float = 0) -> Ran:
        calls.append(argv)
        return Ran(0, "Running\r\n", "")

    assert st.ScheduledTask("\\ssm-deploy\\it's", powershell, str(tmp_path)).state() == "Running"
    assert calls[0][-1] == "(Get-ScheduledTask -TaskPath '\\ssm-deploy\\' -TaskName 'it''s').State.ToString()"


def test_python_3_8_writes_the_same_task_xml_and_unit(tmp_path: Path):
    if not os.path.exists(PY38):
        pytest.skip(f"NO PYTHON 3.8 at {PY38}: the task XML NOT generated under the oldest Python")
    agent = payload.write(tmp_path, frozenset({"service-windows"}))
    script = ("import json, sys; from ssm_action.agent import scheduled_task, systemd; a = json.loads(sys.argv[1]); "
              "print(json.dumps([scheduled_task.task_xml(*a), systemd.unit_text('notes', a[1], '/srv/notes')]))")
    args = ["notes <v1>", ARGV, "C:\\apps\\notes", "svc-notes"]
    done = subprocess.run([PY38, "-c", script, json.dumps(args)], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(agent)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [st.task_xml(*args), systemd.unit_text("notes", ARGV, "/srv/notes")]
