"""``source: artifact`` on a real Windows CPython under Wine: the release folders, ``C:\\srv\\app`` as a
directory junction, the wheelhouse installed with no index, and a failure switched back.

The artifact is packed by the runner's code for win_amd64 and the server's Python, and read by the
agent from a local path (the local transport's folder store).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ssm_action import payload
from ssm_action.deploy import artifact
from ssm_action.deploy.wheelhouse import WheelTarget
from tests.agent.agent_fixtures import parse_result
from tests.artifact.artifact_fixtures import ARTIFACT, pip_index_env
from tests.windows.host import AGENT_DIR, NEWEST
from tests.windows.winapp import APP_DIR, WINDOWS, WinApp

pytestmark = WINDOWS
BEFORE_THE_SWITCH = ("lock", "record", "prepare", "download", "checksum", "unpack", "install", "pre-stop", "stop")


def deploy(app: WinApp, sha: str, packed: artifact.Artifact) -> tuple[int, str, dict[str, Any]]:
    """The artifact agent on Windows Python with ``packed`` in C:\\ssm: exit code, output, result."""
    store = app.path(r"C:\ssm") / packed.path.name
    store.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(packed.path, store)
    params = app.params(sha, source="artifact", artifact_url=app.wine.windows(store),
                        artifact_sha256=packed.sha256, artifact_size=packed.size)
    params_file = app.path(r"C:\ssm") / f"params-{params['deploy_id']}.json"
    params_file.write_text(json.dumps(params))
    agent = app.wine.windows(payload.write(app.wine.linux(AGENT_DIR), ARTIFACT))
    ran = app.wine.run([app.python, agent, "--params-file", app.wine.windows(params_file)], timeout=600)
    out = ran.out.replace("\r\n", "\n")
    return ran.code, out, parse_result(ran.out) or {}


def test_an_artifact_release_behind_a_junction_and_a_switch_back(app: WinApp, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch, wheel: Path):
    for key, value in pip_index_env(wheel.parent).items():  # the runner's index: the wheel's folder
        monkeypatch.setenv(key, value)
    target = WheelTarget("windows", ".".join(NEWEST.split(".")[:2]))
    v1 = app.commit("v1", requirements="tinydep==1.0\n")
    code, out, result = deploy(app, v1, artifact.pack(app.origin, v1, tmp_path / "v1", wheels=target))
    steps = {s["name"]: s["ok"] for s in result["steps"]}
    assert all(steps[name] for name in BEFORE_THE_SWITCH), out
    assert "from 1 wheel(s), no index" in out and APP_DIR + ".releases\\" in out
    if "WinError 50" in (result.get("error") or ""):
        pytest.xfail("Wine 8.0 cannot make directory junctions (FSCTL_SET_REPARSE_POINT: WinError 50); "
                     "every step before the switch ran on Windows Python under Wine")
    assert code == 0 and result["status"] == "success", out
    assert app.get() == (200, "v1 tinydep-1.0")
    release = app.path(APP_DIR + ".releases")
    assert [p.name.endswith(v1[:12]) for p in release.iterdir() if p.name[:1].isdigit()] == [True]

    v2 = app.commit("v2", status=500, requirements="tinydep==1.0\n")
    code, out, result = deploy(app, v2, artifact.pack(app.origin, v2, tmp_path / "v2", wheels=target))
    assert result["status"] == "rolled_back", out
    assert "rollback-switch" in out and "no reinstall" in out and app.get() == (200, "v1 tinydep-1.0")
