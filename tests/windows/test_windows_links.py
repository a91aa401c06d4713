"""Artifact releases' junctions (ssm_action/agent/links.py) on a real Windows CPython under
Wine: a switch, a second switch, and the repair of a switch killed between its renames.

Wine 8.0 (Debian 12) has no junctions or directory symlinks: ``_winapi.CreateJunction``
fails with WinError 50 ("Request not supported"), ``cmd /c mklink /J`` prints "Failed to
open" and exits 0, ``os.symlink`` fails with WinError 2. The test is a strict xfail: it
turns into a failure (XPASS) the day the Wine in use supports them, to be enabled then."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.windows.host import NEWEST, WindowsHost
from tests.windows.winapp import WINDOWS

pytestmark = WINDOWS
AGENT = Path(__file__).resolve().parents[2] / "ssm_action" / "agent"
SCRIPT = r'''
import os, sys
sys.path.insert(0, sys.argv[1])
import links
root = r"C:\srv-links"
app, one, two = root + r"\app", root + r"\releases\one", root + r"\releases\two"
for release in (one, two):
    os.makedirs(release)
    with open(release + r"\version.txt", "w") as handle:
        handle.write(os.path.basename(release))
junctions = links.local_links()
assert type(junctions).__name__ == "Junctions", junctions
junctions.switch(app, one)
assert links.link_target(app) == one, links.link_target(app)
junctions.switch(app, two)
assert open(app + r"\version.txt").read() == "two"
assert open(one + r"\version.txt").read() == "one"  # the old release is kept
assert not os.path.lexists(app + ".old") and not os.path.lexists(app + ".switch")
os.rename(app, app + ".old")  # a switch killed between its two renames
junctions.make(one, app + ".switch")
print("REPAIR", junctions.repair(app))
assert links.link_target(app) == two and not os.path.lexists(app + ".switch")
junctions.remove(app)
assert not os.path.lexists(app) and os.path.isfile(two + r"\version.txt")
print("JUNCTIONS OK")
'''


@pytest.mark.xfail(strict=True, reason="Wine 8.0 has no junctions: CreateJunction raises "
                   "WinError 50 (Request not supported); see the module docstring")
def test_junction_switches_and_the_repair_of_a_killed_one(windows_host: WindowsHost):
    wine = windows_host.wine
    ran = wine.run([windows_host.python(NEWEST), "-c", SCRIPT, wine.windows(AGENT)], timeout=120)
    assert "JUNCTIONS OK" in ran.out, ran.out + ran.err[-600:]
    assert "an interrupted switch was undone: C:\\srv-links\\app is " in ran.out
