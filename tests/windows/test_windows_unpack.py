"""The Windows bootstrap's unpack stub on the real Windows CPython (both the newest and the
oldest supported): it turns the script's xz literal back into the agent zipapp, byte for byte,
and the agent it wrote starts (refusing parameters it lacks: exit 4). PowerShell itself does
not run under Wine; the files come from the real script's literals (tests/ssm/unpack_stub.py)."""

from __future__ import annotations

import json
import zipfile

import pytest

from ssm_action import payload
from ssm_action.contract import RESULT_PREFIX, ExitCode
from ssm_action.transports.ssm import bootstrap
from tests.ssm.unpack_stub import lay_out
from tests.windows.host import NEWEST, OLDEST, WindowsHost
from tests.windows.winapp import WINDOWS

pytestmark = WINDOWS
AGENT = payload.build(frozenset({"service-windows", "artifact"}))  # the largest Windows agent


@pytest.mark.parametrize("version", [NEWEST, OLDEST])
def test_the_windows_python_unpacks_the_agent_the_bootstrap_carries(windows_host: WindowsHost, version: str):
    wine = windows_host.wine
    script = bootstrap.script("windows", bootstrap.payload(AGENT, {"deploy_id": "1-1"}, "python"))
    laid = lay_out(script, wine.linux(r"C:\ssm\unpack %s\a work folder" % version))  # spaces, quoted
    python = windows_host.python(version)
    ran = wine.run([python, *(wine.windows(path) for path in laid)], timeout=120)
    assert (ran.code, ran.out, ran.err) == (0, "", "")
    assert laid.agent.read_bytes() == AGENT.data
    params = laid.agent.parent / "params.json"
    params.write_text(json.dumps({"deploy_id": "1-1"}))
    agent = wine.run([python, wine.windows(laid.agent), "--params-file", wine.windows(params)], timeout=120)
    assert agent.code == ExitCode.BAD_PARAMS and RESULT_PREFIX in agent.out, agent.out + agent.err


def test_a_windows_server_refuses_an_artifact_with_a_device_name(windows_host: WindowsHost):
    """aux.py opens the device AUX on Windows: the agent's unpack refuses the artifact before it writes."""
    wine = windows_host.wine
    folder = wine.linux(r"C:\ssm\reserved")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "a.zip", "w") as archive:
        archive.writestr("ok.txt", "fine")
        archive.writestr("app/aux.py", "x = 1\n")
    agent = wine.windows(payload.write(folder, frozenset({"artifact"})))
    script = folder / "unpack.py"
    script.write_text(f"import sys\nsys.path.insert(0, {agent!r})\nfrom ssm_action.agent import artifact\n"
                      "try:\n    artifact.unpack(r'C:\\ssm\\reserved\\a.zip', r'C:\\ssm\\reserved\\r1')\n"
                      "except Exception as exc:\n    print(exc)\n")
    ran = wine.run([windows_host.python(NEWEST), wine.windows(script)], timeout=120)
    assert "the artifact holds 'app/aux.py', a name Windows reserves for a device" in ran.out, ran.out + ran.err
    assert not (folder / "r1").exists() and not (folder / "r1.partial").exists()
