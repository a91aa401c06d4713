"""The agent's POSIX platform, on this machine's real processes, signals and locks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ssm_action.agent import cli, host, posix


def test_local_platform_is_posix_here():
    assert isinstance(cli.local_platform(), posix.PosixPlatform)


def test_posix_alive_sees_exited_and_zombie_processes():
    plat = posix.PosixPlatform()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{child.pid}/stat")
    deadline = time.monotonic() + 30
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":  # exited, not reaped yet
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not plat.alive(child.pid)
    child.wait()
    assert not plat.alive(child.pid)
    assert plat.alive(os.getpid())


def test_posix_finds_and_stops_the_app_by_its_exact_command(tmp_path: Path):
    plat = posix.PosixPlatform()
    entry = tmp_path / "app.py"
    entry.write_text("import time\ntime.sleep(60)\n")
    app = subprocess.Popen([sys.executable, str(entry)], start_new_session=True)
    other = subprocess.Popen(["sleep", "60", str(entry)])
    match = host.AppMatch((sys.executable, str(entry)), str(Path(sys.executable).parent), "")
    try:
        # Right after fork the child still shows the parent's command line: wait for its exec.
        deadline = time.monotonic() + 10
        while plat.find_app_pids(match) != [app.pid] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert plat.find_app_pids(match) == [app.pid]
        assert plat.find_app_pids(match._replace(folder=str(tmp_path))) == []  # it works elsewhere
        assert plat.find_app_pids(match._replace(folder=os.getcwd())) == [app.pid]
        started = plat.started(app.pid)
        assert started and started == plat.started(app.pid)
        assert plat.terminate(app.pid, force=False) is True
        assert app.wait(timeout=10) == -15
        assert plat.terminate(app.pid, force=False) is False
        assert plat.find_app_pids(match) == [] and plat.started(app.pid) is None
    finally:
        for proc in (app, other):
            proc.kill()
            proc.wait()


def test_posix_hooks_and_lock(tmp_path: Path):
    plat = posix.PosixPlatform()
    assert plat.hook_argv("/a/pre-stop.sh", "/v/bin/python") == ["/bin/sh", "/a/pre-stop.sh"]
    python_hook = plat.hook_argv("/a/pre-stop.py", "/v/bin/python")
    assert python_hook == ["/v/bin/python", "/a/pre-stop.py"]
    lock = tmp_path / "deploy.lock"
    with open(lock, "a+b") as first, open(lock, "a+b") as second:
        assert plat.try_lock(first.fileno()) is True
        assert plat.try_lock(second.fileno()) is False
