"""The real agent on a real Windows CPython under Wine: deploys, rollbacks, failures."""

from __future__ import annotations

from ssm_action.results import EXIT_OK, EXIT_ROLLED_BACK
from tests.windows.winapp import WinApp


def test_first_deploy_then_redeploy(app: WinApp):
    v1 = app.commit("v1")
    first = app.deploy(v1)
    assert first.code == EXIT_OK, first.out + first.err
    print(first.out)
    assert app.get() == (200, "v1 tinydep-1.0")
    v2 = app.commit("v2")
    second = app.deploy(v2)
    print(second.out)
    assert second.code == EXIT_OK, second.out + second.err
    assert app.get() == (200, "v2 tinydep-1.0")
