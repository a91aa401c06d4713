"""The project's code cannot read the action's secrets from /proc: when the action runs as root,
its tools run as another user, to whom the first environment of every process above them (where
the runner put the secrets) is closed. Outside the container this proves the mechanism with a
real process tree; tests/gates/test_container.py proves it for a real project in the image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ssm_action.gates import projectenv, sandbox
from ssm_action.gates.process import GateLog
from tests.conftest import ROOT

SECRET = "ghs_planted_ancestor_secret_42"
SYSTEM_PYTHON = "/usr/bin/python3"  # outside /root, where the other user can run it
# What a malicious dependency does: walk up its parents and read their first environment.
PROBE = """
import json, os
seen, pid = {}, os.getppid()
while pid > 1:
    try:
        seen[pid] = open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace")
    except OSError as exc:
        seen[pid] = type(exc).__name__
    pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
print(json.dumps({"uid": os.getuid(), "seen": seen, "own": dict(os.environ)}))
"""
# The action's side: a process started with the secret in its environment, as the runner starts it.
ACTION = """
import json, sys
from pathlib import Path
from ssm_action.gates import sandbox
from ssm_action.gates.process import GateLog
home = Path(sys.argv[1])
box = sandbox.Sandbox(sandbox.NOBODY, sandbox.NOBODY, home) if sys.argv[2] == "sandbox" else None
if box:
    box.give(home)
done = GateLog(60, box).run([sys.argv[3], "-c", sys.argv[4]], cwd=Path("/"))
print(done.stdout, end="")
"""

root_only = pytest.mark.skipif(os.geteuid() != 0 or not Path(SYSTEM_PYTHON).exists(),
                               reason="switching users needs root, and a Python outside /root")


def _probe(mode: str) -> dict:
    home = Path(tempfile.mkdtemp(prefix="ssm-sandbox-home-"))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "INPUT_GITHUB-TOKEN": SECRET,
           "AWS_SECRET_ACCESS_KEY": SECRET, "SSM_ACTION_RUN_AS": "self"}
    try:
        done = subprocess.run([sys.executable, "-c", ACTION, str(home), mode, SYSTEM_PYTHON, PROBE], env=env,
                              capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["rm", "-rf", str(home)], check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@root_only
def test_as_the_actions_own_user_the_probe_reads_the_secret_from_its_parent():
    """The exposure itself: what the project's code could do before it ran as another user
    (and what it still can where the action does not run as root)."""
    found = _probe("self")
    assert any(SECRET in text for text in found["seen"].values())
    assert SECRET not in json.dumps(found["own"])  # its own environment was already clean


@root_only
def test_as_the_sandboxs_user_no_parent_environment_can_be_read():
    found = _probe("sandbox")
    assert found["uid"] == sandbox.NOBODY
    assert SECRET not in json.dumps(found)
    assert found["seen"] and set(found["seen"].values()) == {"PermissionError"}, found["seen"]
    assert found["own"]["HOME"].startswith(tempfile.gettempdir())


@root_only
def test_the_owner_of_the_checkout_runs_its_code(tmp_path, monkeypatch):
    monkeypatch.delenv(sandbox.RUN_AS)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    assert sandbox.identity(checkout) == (sandbox.NOBODY, sandbox.NOBODY)  # root's: nobody
    os.chown(checkout, 1001, 1002)
    assert sandbox.identity(checkout) == (1001, 1002)  # the runner's user, as on GitHub
    monkeypatch.setenv(sandbox.RUN_AS, "self")
    assert sandbox.identity(checkout) is None


@root_only
def test_reports_are_read_only_when_the_tools_user_wrote_them(tmp_path):
    box = sandbox.Sandbox(4321, 4321, tmp_path / "home")
    mine = tmp_path / "report.json"
    mine.write_text("{}")
    with pytest.raises(OSError):  # root's file, as a link to /proc/1/environ would be
        sandbox.read_report(mine, box)
    os.chown(mine, 4321, 4321)
    assert sandbox.read_report(mine, box) == "{}"
    link = tmp_path / "link.json"
    link.symlink_to(mine)
    with pytest.raises(OSError):
        sandbox.read_report(link, box)


@root_only
def test_the_cache_is_handed_over_without_following_links(tmp_path):
    cache = tmp_path / "cache"
    (cache / "envs" / "k").mkdir(parents=True)
    secret = tmp_path / "root-only"
    secret.write_text("x")
    (cache / "envs" / "k" / "link").symlink_to(secret)
    (cache / "state").mkdir()
    (cache / "state" / "k.lock").symlink_to(secret)  # a link where the action writes
    box = sandbox.Sandbox(4321, 4321, tmp_path / "home")
    projectenv.hand_over(cache, box)
    assert secret.stat().st_uid == 0  # the link was changed, not what it points to
    assert (cache / "envs" / "k").stat().st_uid == 4321 and (cache / "uv").stat().st_uid == 4321
    assert (cache / "state").stat().st_uid == 0 and not (cache / "state" / "k.lock").exists()
    assert GateLog(1, box).sandbox is box
