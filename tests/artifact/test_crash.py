"""Crash consistency: a real agent-side process SIGKILLed inside each delivery step (download,
verify, unpack, install, and the switch before, after and, in the Windows order, between its
renames). After each kill the running version still serves and is what a rollback would put
back; a re-run completes, resumes what it can and leaves no leftovers."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from ssm_action.agent.links import Links
from ssm_action.agent.releases import Releases
from tests.artifact.artifact_fixtures import Target, wait_for

POINTS = ["download", "verify", "unpack", "install", "switch-before", "switch-after"]
STEP = {"switch-before": "switch", "switch-after": "switch", "switch-between": "switch"}


def leftovers(target: Target, sha256: str) -> list[str]:
    """Half-made things: partial releases, downloads other than the artifact's zip, switch links."""
    root = Path(f"{target.app_dir}.releases")
    found = [p.name for p in root.iterdir() if p.name.endswith(".partial")]
    found += [p.name for p in (root / "downloads").iterdir() if p.name != f"{sha256}.zip"]
    found += [p.name for p in target.app_dir.parent.iterdir() if p.name != "app" and not p.name.endswith(".releases")]
    return found


@pytest.mark.parametrize("point, flags", [(p, ()) for p in POINTS] + [("switch-between", ("--junction-sequence",))],
                         ids=POINTS + ["switch-between-windows-order"])
def test_killed_in_a_step_the_old_version_serves_and_a_rerun_completes(target: Target, versions, publish,
                                                                       point, flags):
    v1, v2 = versions
    first = target.deliver(v1.commit, publish(v1), *flags)
    assert first.code == 0, first.out + first.err
    releases = Releases(str(target.app_dir), Links())
    old = releases.current()
    releases.mark_good(old)  # what the deploy's checks would record
    target.start_app()
    assert wait_for(target, "v1 tinydep-1.0") == (200, "v1 tinydep-1.0")

    ref = publish(v2)
    killed = target.deliver(v2.commit, ref, *flags, "--kill-at", point)
    assert killed.code == -signal.SIGKILL, killed.out + killed.err
    step = STEP.get(point, point)
    assert f"{step} begins" in killed.out and f"{step} ok" not in killed.out
    assert target.get() == (200, "v1 tinydep-1.0")  # the old app was never disturbed
    assert releases.rollback_target() == old and releases.ready(old)
    if step != "switch":
        assert releases.current() == old
    if point == "switch-between":
        assert not os.path.lexists(target.app_dir)  # the Windows window: repaired by the next run
    if point == "install":
        assert "installer running: True" in killed.out

    rerun = target.deliver(v2.commit, ref, *flags)
    assert rerun.code == 0, rerun.out + rerun.err
    assert releases.current() == rerun.release and releases.ready(rerun.release)
    assert (target.app_dir / "app.py").read_bytes().count(b"'v2'") == 1
    assert (target.app_dir / "static" / "blob.bin").stat().st_size == 3 << 20
    assert rerun.detail("prepare").startswith(f"previous release {old}")
    if point == "download":
        assert "resumed at" in rerun.detail("download")
    if point == "verify":
        assert rerun.detail("download").startswith("3.")  # nothing left to transfer, hashed again
    if point == "switch-between":
        assert "an interrupted switch was undone" in rerun.detail("prepare")
    assert leftovers(target, v2.sha256) == []
    assert releases.names() == [old, rerun.release]  # the killed run's release pruned (retention 2)
