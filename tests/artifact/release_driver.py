"""STAND-IN for the agent's deploy steps from an artifact (phase 2 wires ssm_action.agent.delivery
into ssm_action/agent/deploy.py): runs the Delivery steps in order in a real process, one line
per step, and can SIGKILL itself (and its children) at a chosen point inside a step.

    python release_driver.py PARAMS_JSON [--kill-at POINT] [--junction-sequence] [--fail-after-switch]

PARAMS_JSON: the contract's parameters plus "artifact_url", "artifact_sha256", "artifact_size".
POINT: download (after the first MiB), verify (hashed, not yet renamed), unpack (after 5 files),
install (while the installer runs), switch-before (the new link made, not yet in place), switch-after (in place),
switch-between (Windows order: app_dir renamed away, the new link not yet in place).
--junction-sequence: the Windows switch order (two renames), with symlinks in place of junctions.
--fail-after-switch: as if the new version failed its checks: switch_back, exit 2.
Runs under Python 3.8 with the agent's zipapp on PYTHONPATH.
"""

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable, List

from ssm_action.agent import artifact, shell as shell_module
from ssm_action.agent.delivery import ArtifactRef, Delivery
from ssm_action.agent.errors import StepError
from ssm_action.agent.cli import local_platform
from ssm_action.agent.links import Links
from ssm_action.agent.output import Redactor, Reporter
from ssm_action.contract.checks import parse_params

STEPS = ("prepare", "download", "verify", "unpack", "install", "switch", "keep")


def die() -> None:
    sys.stdout.flush()
    os.killpg(0, signal.SIGKILL)


class JunctionOrder(Links):
    """Links switched in the Windows order (rename away, rename in), with symlinks."""

    atomic = False


def arm(point: str, app_dir: str) -> Callable[[int], None]:
    """Patch the process so it dies at ``point``; the download progress callback."""
    if point == "unpack":
        real_copy, copied = artifact.shutil.copyfileobj, [0]

        def copy(*args: Any, **kwargs: Any) -> None:
            real_copy(*args, **kwargs)
            copied[0] += 1
            if copied[0] == 5:
                die()
        artifact.shutil.copyfileobj = copy  # type: ignore[assignment]
    if point == "verify":
        real_hash = artifact.file_sha256

        def hashed_then_killed(path: str) -> str:
            real_hash(path)
            die()
            return ""
        artifact.file_sha256 = hashed_then_killed  # type: ignore[assignment]
    if point == "install":
        def run(argv: List[str], **kwargs: Any) -> Any:
            if "install" in argv:
                installer = subprocess.Popen(argv, cwd=kwargs.get("cwd"))  # in our process group
                time.sleep(0.02)
                print("installer running: %s" % (installer.poll() is None))
                die()
            return real_run(argv, **kwargs)
        real_run = shell_module.subprocess.run
        shell_module.subprocess.run = run  # type: ignore[assignment]
    if point.startswith("switch-"):
        real_replace, real_rename = os.replace, os.rename

        def replace(src: str, dst: str) -> None:
            if point == "switch-before" and dst == app_dir:
                die()
            real_replace(src, dst)
            if point == "switch-after" and dst == app_dir:
                die()

        def rename(src: str, dst: str) -> None:
            real_rename(src, dst)
            if point == "switch-between" and src == app_dir:
                die()
        os.replace, os.rename = replace, rename  # type: ignore[assignment]

    def progress(done: int) -> None:
        if point == "download" and done >= artifact.CHUNK:
            die()
    return progress


def main(argv: List[str]) -> int:
    with open(argv[0], encoding="utf-8") as handle:
        raw = json.load(handle)
    ref = ArtifactRef(raw.pop("artifact_url"), raw.pop("artifact_sha256"), raw.pop("artifact_size"))
    params, errors = parse_params(raw)
    assert params is not None, errors
    point = argv[argv.index("--kill-at") + 1] if "--kill-at" in argv else ""
    links = JunctionOrder() if "--junction-sequence" in argv else None
    rep = Reporter(Redactor())
    delivery = Delivery(params, ref, local_platform(), shell_module.Shell(rep), links,
                        arm(point, os.path.normpath(params.app_dir)))
    for step in STEPS:
        print("%s begins" % step, flush=True)
        try:
            detail = getattr(delivery, step)()
        except StepError as exc:
            print("%s FAILED %s" % (step, exc), flush=True)
            return 1
        print("%s ok %s" % (step, detail), flush=True)
        if step == "switch" and "--fail-after-switch" in argv:
            print("switch-back ok %s" % delivery.switch_back(), flush=True)
            return 2
    print("release %s" % delivery.name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
