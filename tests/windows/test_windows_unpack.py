"""The Windows bootstrap's unpack stub on the real Windows CPython (both the newest and the
oldest supported): it turns the script's xz literal back into the agent zipapp, byte for byte,
and the agent it wrote starts (refusing parameters it lacks: exit 4). PowerShell itself does
not run under Wine; the files come from the real script's literals (tests/ssm/unpack_stub.py)."""

from __future__ import annotations

import json
import zipfile

import boto3
import pytest

from ssm_action import payload
from ssm_action.contract import RESULT_PREFIX, ExitCode
from ssm_action.transports.ssm import agent_store, bootstrap
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


@pytest.fixture
def agent_in_s3(aws):
    """The full agent in moto's S3 (real HTTP on 127.0.0.1, which Wine's Windows Python reaches) and its URL."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="deploy-logs")
    agent = payload.build_full()
    return s3, agent, agent_store.publish(s3, "deploy-logs", "web", agent)


def test_the_windows_python_fetches_the_agent_from_s3_and_refuses_another(windows_host: WindowsHost, agent_in_s3):
    s3, agent, url = agent_in_s3
    wine, python = windows_host.wine, windows_host.python(NEWEST)
    script = bootstrap.script("windows", bootstrap.payload(agent, {"deploy_id": "1-1"}, "python", agent_url=url))
    laid = lay_out(script, wine.linux(r"C:\ssm\fetch"))
    ran = wine.run([python, *(wine.windows(path) for path in laid)], timeout=120)
    assert (ran.code, ran.err) == (0, "") and laid.agent.read_bytes() == agent.data

    laid.agent.unlink()
    s3.put_object(Bucket="deploy-logs", Key=agent_store.key("web", agent), Body=agent.data + b"tampered")
    ran = wine.run([python, *(wine.windows(path) for path in laid)], timeout=120)
    assert ran.code == bootstrap.NO_AGENT_EXIT and "it was not run" in ran.err
    assert not laid.agent.exists()


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
