"""The oldest Windows Python the agent claims (3.8), and a server whose Python changes."""

from __future__ import annotations

from ssm_action.contract import ExitCode
from tests.windows.host import NEWEST, OLDEST
from tests.windows.winapp import WINDOWS, WinApp

pytestmark = WINDOWS


def test_the_agent_and_the_app_on_windows_python_3_8(app: WinApp):
    app.dirty = True  # a 3.8 venv: later tests start afresh on the newest Python
    python = app.host.python(OLDEST)
    first = app.deploy(app.commit("py38-v1"), python=python)
    assert first.code == ExitCode.OK, first.out + first.err
    assert first.result["python"] == "3.8.10"
    assert "version = 3.8.10" in (app.app_dir / ".venv" / "pyvenv.cfg").read_text()
    second = app.deploy(app.commit("py38-v2"), python=python)
    assert second.code == ExitCode.OK, second.out + second.err
    assert app.serving() == "py38-v2"


def test_a_changed_server_python_does_not_break_later_deploys(app: WinApp):
    app.dirty = True
    assert app.deploy(app.commit("old-python"), python=app.host.python(OLDEST)).code == ExitCode.OK
    newest = app.host.python(NEWEST)
    upgraded = app.deploy(app.commit("new-python"), python=newest)
    later = app.deploy(app.commit("later"), python=newest)
    assert [upgraded.code, later.code] == [ExitCode.OK, ExitCode.OK], upgraded.out + later.out
    assert upgraded.result["python"] == later.result["python"] == "3.13.2"
    assert app.serving() == "later"
    # Issue 17 bug 1: the venv is remade after the stop (the running pythonw.exe holds it).
    steps = [s["name"] for s in upgraded.result["steps"]]
    assert steps[steps.index("stop") + 1] == "venv", steps
    assert "remade for 3.13.2 after the stop" in upgraded.out
    assert "version = 3.13.2" in (app.app_dir / ".venv" / "pyvenv.cfg").read_text()


def test_a_failed_install_after_a_python_change_restores_a_working_venv(app: WinApp):
    """The venv is remade after the stop, the install fails: the old version comes back on a
    venv that runs (rollback-deps checks the venv, not only deps.json)."""
    app.dirty = True
    assert app.deploy(app.commit("old-python"), python=app.host.python(OLDEST)).code == ExitCode.OK
    missing = "file:///C:/nowhere/missing-1.0-py3-none-any.whl"
    newest = app.host.python(NEWEST)
    run = app.deploy(app.commit("needs-missing", requirements=f"missing @ {missing}\n"),
                     python=newest)
    assert run.code == ExitCode.ROLLED_BACK, run.out + run.err
    assert run.result["error"].startswith("venv: installing requirements.txt failed"), run.out
    assert app.serving() == "old-python"
    later = app.deploy(app.commit("later"), python=newest)
    assert later.code == ExitCode.OK, later.out + later.err
    assert app.serving() == "later"
