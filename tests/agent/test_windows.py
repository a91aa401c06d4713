"""The agent's Windows platform. Windows is not available here: its methods are checked for
what they WOULD run (argv, creation flags, paths) with subprocess/ctypes/msvcrt faked."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from ssm_action.agent import host, windows, winproc
from ssm_action.agent.errors import StepError

WIN = windows.WindowsPlatform(system_root=r"C:\Windows")
VENV = r"C:\apps\shop\.venv"
ENTRY = r"C:\apps\shop\app.py"
POWERSHELL = [r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", "-NoProfile",
              "-NonInteractive", "-ExecutionPolicy", "Bypass"]


class FakePopen:
    """Records each call; raises the queued errors first."""

    calls: list[tuple[list[str], dict]] = []
    errors: list[OSError] = []

    def __init__(self, argv, **kwargs):
        FakePopen.calls.append((argv, kwargs))
        if FakePopen.errors:
            raise FakePopen.errors.pop(0)
        self.pid = 4242


@pytest.fixture
def fake_popen(monkeypatch: pytest.MonkeyPatch) -> type[FakePopen]:
    FakePopen.calls, FakePopen.errors = [], []
    monkeypatch.setattr(windows.subprocess, "Popen", FakePopen)
    return FakePopen


def winerror(code: int) -> OSError:
    exc = OSError(13, "Access is denied")
    exc.winerror = code  # type: ignore[attr-defined]
    return exc


def test_windows_venv_paths(monkeypatch: pytest.MonkeyPatch):
    assert WIN.venv_python(VENV) == r"C:\apps\shop\.venv\Scripts\python.exe"
    monkeypatch.setattr(windows.os.path, "isfile", lambda p: p.endswith("pythonw.exe"))
    assert WIN.app_python(VENV) == r"C:\apps\shop\.venv\Scripts\pythonw.exe"
    monkeypatch.setattr(windows.os.path, "isfile", lambda p: False)
    assert WIN.app_python(VENV) == r"C:\apps\shop\.venv\Scripts\python.exe"


def test_windows_hook_runners():
    assert WIN.hook_suffixes == (".ps1", ".cmd", ".py")
    hook = r"C:\apps\shop\deploy\hooks\pre-stop.ps1"
    assert WIN.hook_argv(hook, "py.exe") == POWERSHELL + ["-File", hook]
    cmd = r"C:\apps\R&D (new)\deploy\hooks\post-start.CMD"  # & ( ) would end or change an unquoted command
    assert WIN.hook_argv(cmd, "py.exe") == r'"C:\Windows\System32\cmd.exe" /d /v:off /s /c ""%s""' % cmd
    assert WIN.hook_argv(r"C:\h\post-start.py", "py.exe") == ["py.exe", r"C:\h\post-start.py"]
    with pytest.raises(StepError, match=r"cannot be run by cmd.exe: it would expand the % in the path"):
        WIN.hook_argv(r"C:\apps\%USERPROFILE%\deploy\hooks\post-start.cmd", "py.exe")


def test_windows_start_is_detached_out_of_the_job(fake_popen):
    proc, note = WIN.start([r"C:\v\pythonw.exe", ENTRY], r"C:\apps\shop", {"A": "1"}, "LOG")
    argv, kwargs = fake_popen.calls[0]
    assert proc.pid == 4242 and note == "" and argv == [r"C:\v\pythonw.exe", ENTRY]
    # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_BREAKAWAY_FROM_JOB | CREATE_NO_WINDOW
    assert kwargs["creationflags"] == 0x00000008 | 0x00000200 | 0x01000000 | 0x08000000
    assert kwargs["close_fds"] is True and kwargs["cwd"] == r"C:\apps\shop"
    assert kwargs["stdin"] is subprocess.DEVNULL and kwargs["stdout"] == "LOG"
    assert kwargs["stderr"] is subprocess.STDOUT


def test_windows_start_falls_back_when_breakaway_is_denied(fake_popen):
    fake_popen.errors = [winerror(5)]
    proc, note = WIN.start(["pythonw.exe", ENTRY], "C:\\", {}, "LOG")
    # All four flags, then the same without CREATE_BREAKAWAY_FROM_JOB (0x01000000).
    assert [c[1]["creationflags"] for c in fake_popen.calls] == [0x09000208, 0x08000208]
    assert proc.pid == 4242 and note.startswith("; WARNING: the SSM Agent's job object refused breakaway")
    assert "stop it when the SSM Agent stops or restarts" in note and "app-host: service" in note


def test_windows_start_other_errors_propagate(fake_popen):
    fake_popen.errors = [winerror(2)]
    with pytest.raises(OSError):
        WIN.start(["pythonw.exe", ENTRY], "C:\\", {}, "LOG")
    assert len(fake_popen.calls) == 1


def fake_processes(monkeypatch: pytest.MonkeyPatch, procs: dict, me: bool = True) -> list:
    """winproc faked: ``procs`` maps pid -> (parent, command line); the agent itself added."""
    table = {**procs, **({os.getpid(): (1, "agent")} if me else {})}
    killed: list[int] = []
    monkeypatch.setattr(winproc, "snapshot",
                        lambda: [winproc.Proc(pid, parent) for pid, (parent, _) in table.items()])
    monkeypatch.setattr(winproc, "command_line", lambda pid: table[pid][1])
    monkeypatch.setattr(winproc, "terminate", lambda pid: killed.append(pid) or True)
    return killed


LAUNCHER = r'"C:\apps\shop\.venv\Scripts\pythonw.exe" C:\apps\shop\app.py'
SHOP = host.AppMatch((VENV + r"\Scripts\pythonw.exe", ENTRY), VENV + r"\Scripts", "")


def test_windows_finds_the_app_by_its_exact_command_the_launcher_pair_as_one(monkeypatch):
    fake_processes(monkeypatch, {
        10: (1, LAUNCHER),  # the venv launcher ...
        11: (10, r"C:\Python311\pythonw.exe C:\APPS\shop\app.py"),  # ... and its child (not the venv's)
        12: (1, r"notepad.exe C:\apps\shop\app.py"),
        13: (1, r"C:\Python311\python.exe C:\apps\shop\app.py"),  # another python: not ours
        14: (1, None),  # unreadable (a system process)
        15: (99, r"c:\apps\SHOP\.venv\scripts\PYTHONW.EXE C:\apps\shop\app.py"),  # an orphan (paths: any case)
        16: (1, r"C:\apps\shop\.venv\Scripts\pythonw.exe C:\apps\shop\app.py --more"),
    })
    assert WIN.find_app_pids(SHOP) == [10, 15]


def test_windows_the_same_module_command_of_another_app_is_not_ours(monkeypatch):
    """Two apps started as ``-m app``: each by its own venv's interpreter, never by a substring
    (``-m app`` is in ``-m apple``) or by the command's words alone."""
    other = r"C:\apps\other\.venv\Scripts\pythonw.exe"
    fake_processes(monkeypatch, {
        30: (1, VENV + r"\Scripts\pythonw.exe -m app"),
        31: (1, other + " -m app"),
        32: (1, VENV + r"\Scripts\pythonw.exe -m apple"),
        33: (1, r'"%s\Scripts\python.exe" "-m" "app"' % VENV),  # quoted words are the same words
    })
    module = host.AppMatch((VENV + r"\Scripts\pythonw.exe", "-m", "app"), VENV + r"\Scripts", "")
    assert WIN.find_app_pids(module) == [30]
    assert WIN.find_app_pids(module._replace(argv=())) == [30, 32, 33]  # any python of the venv
    assert WIN.find_app_pids(module._replace(folder=r"C:\apps\shop")) == []  # no working folder here


def test_windows_finds_a_console_script_app_by_its_launcher(monkeypatch):
    """pip's Scripts\\waitress-serve.exe is a launcher: its python (and the base interpreter the
    venv's python.exe starts) are its children; the three are one app, the launcher's pid."""
    script = r"C:\apps\shop\.venv\Scripts\waitress-serve.exe"
    fake_processes(monkeypatch, {
        20: (1, script + " --listen=127.0.0.1:8000 app:app"),
        21: (20, r'"C:\apps\shop\.venv\Scripts\python.exe" "%s" --listen=127.0.0.1:8000 app:app'
             % script),
        22: (21, r'"C:\Python313\python.exe" "%s" --listen=127.0.0.1:8000 app:app' % script),
        23: (1, r"C:\apps\other\.venv\Scripts\waitress-serve.exe --listen=127.0.0.1:8000 app:app"),
    })
    match = host.AppMatch((script.upper(), "--listen=127.0.0.1:8000", "app:app"), VENV + r"\Scripts", "")
    assert WIN.find_app_pids(match) == [20]


def test_windows_command_lines_split_as_the_c_runtime_does():
    for argv in ([r"C:\a b\python.exe", "-m", "app"], ["x", 'say "hi"', "a\\", 'b\\"c', ""],
                 [r"C:\R&D\app.py", "%PATH%"]):
        assert windows.split_command_line(subprocess.list2cmdline(argv)) == argv


def test_windows_a_process_list_without_the_agent_is_an_error(monkeypatch):
    fake_processes(monkeypatch, {}, me=False)  # empty, as Wine's stub PowerShell answered
    with pytest.raises(StepError, match="lacks the agent's own pid"):
        WIN.find_app_pids(SHOP)

    def broken():
        raise OSError("snapshot refused")

    monkeypatch.setattr(winproc, "snapshot", broken)
    with pytest.raises(StepError, match="listing processes failed: snapshot refused"):
        WIN.find_app_pids(SHOP)


def test_windows_terminate_forced_ends_the_tree_children_first(monkeypatch):
    killed = fake_processes(monkeypatch, {10: (1, LAUNCHER), 11: (10, "child"),
                                          12: (11, "grandchild"), 13: (1, "other")})
    assert WIN.terminate(10, force=False) is False and killed == []  # no graceful signal
    assert WIN.terminate(10, force=True) is True
    assert killed == [12, 11, 10]


class FakeKernel32:
    def __init__(self, handle: int, exit_code: int) -> None:
        self.handle, self.exit_code, self.closed = handle, exit_code, []

    def OpenProcess(self, access, inherit, pid):  # noqa: N802 - the Win32 name
        assert access == 0x1000 and pid == 42
        return self.handle

    def GetExitCodeProcess(self, handle, code_ref):  # noqa: N802
        code_ref._obj.value = self.exit_code
        return 1

    def CloseHandle(self, handle):  # noqa: N802
        self.closed.append(handle)


@pytest.mark.parametrize("handle, exit_code, last_error, expected", [
    (7, 259, 0, True),  # STILL_ACTIVE
    (7, 0, 0, False),  # exited
    (0, 0, 5, True),  # exists, access denied
    (0, 0, 87, False),  # no such process
])
def test_windows_alive(monkeypatch, handle, exit_code, last_error, expected):
    kernel32 = FakeKernel32(handle, exit_code)
    monkeypatch.setattr(windows.ctypes, "get_last_error", lambda: last_error, raising=False)
    assert windows.WindowsPlatform(kernel32=kernel32).alive(42) is expected
    assert kernel32.closed == ([handle] if handle else [])


def test_windows_lock(monkeypatch: pytest.MonkeyPatch):
    held = set()

    def locking(fd, mode, nbytes):
        assert mode == "LK_NBLCK" and nbytes == 1
        if fd in held:
            raise OSError(36, "Resource deadlock avoided")
        held.add(fd)

    fake = types.SimpleNamespace(locking=locking, LK_NBLCK="LK_NBLCK")
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    assert WIN.try_lock(3) is True
    assert WIN.try_lock(3) is False
