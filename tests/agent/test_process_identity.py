"""Whose process is it: a deploy stops its own app only, never another app's or a stranger.

Real processes: two apps in two folders started with the same ``-m app`` command, and
unrelated python processes named by a planted PID file (``app.json``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ssm_action.agent.posix import PosixPlatform
from ssm_action.contract import ExitCode
from tests.agent.agent_fixtures import Server, free_port, serving

PLAT = PosixPlatform()


def test_two_apps_with_the_same_module_command_do_not_stop_each_other(
        server: Server, tmp_path: Path, wheel: Path, uv_dir: Path):
    with serving(tmp_path / "b", wheel, uv_dir) as b:
        assert (b.app_dir.name, b.app_dir.parent.name) == (server.app_dir.name, server.app_dir.parent.name)
        first = server.deploy(server.commit("a1"), app_command=["-m", "app"])
        other = b.deploy(b.commit("b1"), app_command=["-m", "app"])
        assert first.code == other.code == ExitCode.OK, first.out + other.out
        again = server.deploy(server.commit("a2"), app_command=["-m", "app"])
        assert again.code == ExitCode.OK, again.out
        assert f"stopped pid {first.result['pid']}" in again.out  # A's own process, and only it
        assert PLAT.alive(other.result["pid"]) and b.get() == (200, "b1 tinydep-1.0")
        assert server.get() == (200, "a2 tinydep-1.0")


def test_a_planted_pid_file_signals_no_stranger(server: Server, tmp_path: Path):
    """``app.json`` naming other processes (match words, an old agent's record, a reused pid) is
    not an instruction: the strangers keep running and the app is deployed."""
    port = free_port()
    stranger = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reused = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        v1 = server.deploy(server.commit("v1"))
        assert v1.code == ExitCode.OK, v1.out
        state = Path(f"{server.app_dir}.deploy") / "app.json"
        record = json.loads(state.read_text())
        state.write_text(json.dumps({**record, "pid": reused.pid, "start": 1, "match": ["-m", "http.server"]}))
        run = server.deploy(server.commit("v2"))
        assert run.code == ExitCode.OK, run.out
        assert stranger.poll() is None and reused.poll() is None
        assert record["start"] == PLAT.started(v1.result["pid"])  # the start time recorded, from the OS
        assert f"pid {reused.pid} in the PID file is not our app: left alone" in run.out
        state.write_text(json.dumps({"pid": stranger.pid, "sha": record["sha"], "match": ["-m", "http.server"]}))
        old_agent = server.deploy(server.commit("v3"))  # a record without a start time: only a python of our venv
        assert old_agent.code == ExitCode.OK, old_agent.out
        assert f"pid {stranger.pid} in the PID file is not our app: left alone" in old_agent.out
        assert stranger.poll() is None and reused.poll() is None
        assert server.get() == (200, "v3 tinydep-1.0")
    finally:
        for proc in (stranger, reused):
            proc.kill()
            proc.wait()
