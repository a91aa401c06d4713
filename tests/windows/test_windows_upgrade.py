"""The oldest Windows Python the agent claims (3.8), and a server whose Python changes."""

from __future__ import annotations

import pytest

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


@pytest.mark.xfail(strict=True, reason="issue 17 bug 1: deps recreates the venv before the stop; "
                   "the running Scripts\\pythonw.exe cannot be deleted (PermissionError WinError 5), "
                   "rmtree stops halfway, the rollback says 'requirements unchanged', and every "
                   "later deploy fails the same way (the trial saw 'venv_dir ... is not a "
                   "virtual environment' once pyvenv.cfg was gone)")
def test_a_changed_server_python_does_not_break_later_deploys(app: WinApp):
    app.dirty = True
    assert app.deploy(app.commit("old-python"), python=app.host.python(OLDEST)).code == ExitCode.OK
    newest = app.host.python(NEWEST)
    upgraded = app.deploy(app.commit("new-python"), python=newest)
    later = app.deploy(app.commit("later"), python=newest)
    assert [upgraded.code, later.code] == [ExitCode.OK, ExitCode.OK], upgraded.out + later.out
    assert upgraded.result["python"] == later.result["python"] == "3.13.2"
    assert app.serving() == "later"
