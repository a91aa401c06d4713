"""A Debian container with systemd as PID 1 under podman, for the systemd service host.

The image is made like the project's local base (scripts/build-image.sh): mmdebstrap
bookworm minbase, here with python3, systemd and systemd-sysv, imported with podman.
Built once per machine (keyed by its package list, serialised with a file lock).
The container runs with ``--systemd=always`` and the host's network, so the launcher
inside reaches moto and the IMDS stand-in on 127.0.0.1; the agent's zipapp is mounted
at /opt/agent and run by the container's own python3.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from ssm_action import payload
from tests.containers import podman_env

PACKAGES = "python3,python3-venv,git,systemd,systemd-sysv"  # git and venv: the agent deploys in it
IMAGE = "localhost/ssm-action-systemd:bookworm-2"
MIRROR_SOURCES = "/etc/apt/sources.list.d"

# launcher.main imported from the mounted zipapp, for the module tests of test_systemd_host.py
# (the agent's own `agent.pyz --launch SPEC` is what test_service_host.py's deploys install).
LAUNCH = """import sys
sys.path.insert(0, "/opt/agent/agent.pyz")
from ssm_action.agent.launcher import main
sys.exit(main(sys.argv[1:]))
"""

# Runs inside the container: one operation of the agent's SystemdUnit, its answer as JSON.
DRIVE = """import json, sys
sys.path.insert(0, "/opt/agent/agent.pyz")
from ssm_action.agent.errors import StepError
from ssm_action.agent.output import Redactor, Reporter
from ssm_action.agent.shell import Shell
from ssm_action.agent.systemd import SystemdUnit

op, args = sys.argv[1], json.loads(sys.argv[2])
unit = SystemdUnit(args["name"], Shell(Reporter(Redactor())).run, "/srv/app.deploy/units")
try:
    if op == "install":
        out = unit.install(args["text"])
    elif op == "start":
        out = unit.start()
    elif op == "stop":
        out = unit.stop(args.get("timeout", 5))
    elif op == "restore":
        out = unit.restore_previous()
    elif op == "remove":
        out = unit.remove()
    elif op == "check":
        out = unit.check()
    else:
        out = {"active": unit.active(), "pid": unit.main_pid(), "restarts": unit.restarts(),
               "unit": unit.current(), "journal": unit.journal(5)}
    print(json.dumps({"ok": out}))
except StepError as exc:
    print(json.dumps({"error": str(exc)}))
"""


def mirror() -> str:
    for path in sorted(Path(MIRROR_SOURCES).glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["podman", *args], env=podman_env(), capture_output=True, text=True,
                          timeout=timeout)
    if check and done.returncode:
        raise RuntimeError("podman %s failed (%d): %s" % (" ".join(args[:3]), done.returncode,
                                                          done.stderr[-2000:]))
    return done


def build_image() -> str:
    env = podman_env()
    with open(Path(env["PODMAN_HOME"]) / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if podman("image", "exists", IMAGE, check=False).returncode:
            tar = Path(env["PODMAN_HOME"]) / "systemd-base.tar"
            subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", f"--include={PACKAGES}",
                            "bookworm", str(tar), mirror()], env=env, check=True, capture_output=True,
                           timeout=1200)
            podman("import", "--quiet", "--change", 'CMD ["/sbin/init"]', str(tar), IMAGE, timeout=600)
            tar.unlink()
    return IMAGE


def agent_folder(folder: Path) -> Path:
    """``folder`` with the agent as it ships (agent.pyz) and the two scripts above."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agent.pyz").write_bytes(payload.build(frozenset({"service-linux"})).data)
    (folder / "launch.py").write_text(LAUNCH)
    (folder / "drive.py").write_text(DRIVE)
    return folder


class SystemdContainer:
    """One running container: systemd as PID 1, the agent at /opt/agent, ``srv`` as /srv."""

    def __init__(self, agent_dir: Path, srv: Path) -> None:
        self.name = "ssm-systemd-" + uuid.uuid4().hex[:8]
        self.mounts = ["-v", f"{agent_dir}:/opt/agent:ro", "-v", f"{srv}:/srv"]

    def start(self, image: str) -> None:
        podman("run", "-d", "--name", self.name, "--systemd=always", "--network=host",
               *self.mounts, image, "/sbin/init")
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            state = self.sh("systemctl is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.3)
        raise RuntimeError(f"systemd in the container did not come up: {state!r}; "
                           + podman("logs", self.name, check=False).stdout[-2000:])

    def stop(self) -> None:
        podman("rm", "-f", "-t", "2", self.name, check=False)

    def sh(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        return podman("exec", self.name, "sh", "-c", command, check=check)

    def drive(self, op: str, **args: Any) -> dict[str, Any]:
        done = podman("exec", self.name, "python3", "/opt/agent/drive.py", op, json.dumps(args))
        return json.loads(done.stdout.strip().splitlines()[-1])
