"""The oldest Windows Python the agent claims (3.8), and a server whose Python changes."""

from __future__ import annotations

from ssm_action.contract import ExitCode
from tests.windows.host import NEWEST, OLDEST
from tests.windows.winapp import WINDOWS, WinApp

pytestmark = WINDOWS


def test_windows_python_3_8_then_a_server_python_change(app: WinApp):
    """The oldest Python the agent claims (3.8), then the server's Python changes (bug 1):
    the 3.8 venv is remade after the stop (the running pythonw.exe holds it); a failed
    install there rolls back to a venv that runs, and later deploys work."""
    app.dirty = True  # later tests start afresh
    python = app.host.python(OLDEST)
    first = app.deploy(app.commit("py38-v1"), python=python)
    assert first.code == ExitCode.OK, first.out + first.err
    assert first.result["python"] == "3.8.10"
    assert "version = 3.8.10" in (app.app_dir / ".venv" / "pyvenv.cfg").read_text()
    second = app.deploy(app.commit("py38-v2"), python=python)
    assert second.code == ExitCode.OK, second.out + second.err
    assert app.serving() == "py38-v2"

    newest = app.host.python(NEWEST)
    missing = "file:///C:/nowhere/missing-1.0-py3-none-any.whl"
    failed = app.deploy(app.commit("needs-missing", requirements=f"missing @ {missing}\n"),
                        python=newest)
    assert failed.code == ExitCode.ROLLED_BACK, failed.out + failed.err
    assert "remade for 3.13.2 after the stop" in failed.out
    steps = [s["name"] for s in failed.result["steps"]]
    assert steps[steps.index("stop") + 1] == "venv", steps
    assert failed.result["error"].startswith("venv: installing requirements.txt failed")
    assert app.serving() == "py38-v2"
    later = app.deploy(app.commit("later"), python=newest)
    assert later.code == ExitCode.OK, later.out + later.err
    assert later.result["python"] == "3.13.2" and app.serving() == "later"
    assert "version = 3.13.2" in (app.app_dir / ".venv" / "pyvenv.cfg").read_text()
