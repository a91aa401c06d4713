"""A full disk during a deploy: the agent still rolls back and still prints its result line.

The state folder (``<app_dir>.deploy``: the journal, the records, the logs, the app's log) is a
real tmpfs of 4 MiB, mounted for the test (``mount -t tmpfs`` as root or through password-less
sudo, as on GitHub's runners; skipped otherwise). A per-file limit (``prlimit --fsize``,
RLIMIT_FSIZE) would not do: it gives EFBIG, not ENOSPC, and it would fail git's, uv's and the
app's writes too, at no chosen moment. The old version fills the folder when it is stopped (a
dump written at SIGTERM), so the deploy's next state write after ``stop`` meets ENOSPC, as with a
disk filled by the stopped app or anything else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from ssm_action.contract import ExitCode
from tests.agent.agent_fixtures import Server

FILL_ON_SIGTERM = '''
import signal


def _dump(*_):
    if not os.path.exists(os.environ["FILL_ONCE"]):
        os._exit(0)
    os.remove(os.environ["FILL_ONCE"])
    try:
        with open(os.environ["DEPLOY_APP_DIR"] + ".deploy/shutdown-dump.bin", "wb") as dump:
            while True:
                dump.write(b"x" * 65536)
                dump.flush()
    except OSError:
        pass
    os._exit(0)


signal.signal(signal.SIGTERM, _dump)
'''


def as_root() -> list[str] | None:
    """How to run mount here: directly as root, through password-less sudo (GitHub's runners), or not."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0:
        return [sudo, "-n"]
    return None


@pytest.fixture
def state_tmpfs(server: Server) -> Iterator[Path]:
    root = as_root()
    if root is None or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root or password-less sudo (the test's full disk is a real tmpfs)")
    folder = Path(f"{server.app_dir}.deploy")
    folder.mkdir(parents=True)
    options = f"size=4m,mode=0755,uid={os.getuid()},gid={os.getgid()}"  # the agent runs as this user
    subprocess.run([*root, "mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run([*root, "umount", "-l", str(folder)], check=False)


def free_bytes(folder: Path) -> int:
    info = os.statvfs(folder)
    return info.f_bavail * info.f_frsize


def test_a_disk_full_after_stop_still_rolls_back_and_prints_a_result(server: Server, state_tmpfs: Path,
                                                                     tmp_path: Path):
    env = {"APP_PORT": str(server.port), "FILL_ONCE": str(tmp_path / "fill-once")}
    v1 = server.commit("v1", prelude=FILL_ON_SIGTERM)
    assert server.deploy(v1, app_env=env).code == ExitCode.OK
    (tmp_path / "fill-once").touch()
    full = server.deploy(server.commit("v2", prelude=FILL_ON_SIGTERM), app_env=env)
    assert free_bytes(state_tmpfs) < 64 * 1024, "the stopped app did not fill the state folder"
    assert full.result is not None, "no result line: " + full.out + full.err
    assert "Traceback" not in full.out + full.err
    assert full.code == ExitCode.ROLLED_BACK, full.out  # the disk is still full: the rollback went on
    step, _, error = full.result["error"].partition(": ")
    assert step in ("start", "verify") and error.startswith("OSError") and "No space left" in error, error
    assert server.head() == v1 and server.get() == (200, "v1 tinydep-1.0")
    unwritable = [w for w in full.result["warnings"] if "state folder" in w and "could not be written" in w]
    assert len(unwritable) == 1, full.result["warnings"]  # said once, not at every step
    # Once there is room again, the next deploy succeeds (and stops the v1 the rollback started).
    (state_tmpfs / "shutdown-dump.bin").unlink()
    after = server.deploy(server.commit("v3"), app_env=env)
    assert after.code == ExitCode.OK, after.out + after.err
    assert server.get() == (200, "v3 tinydep-1.0")
