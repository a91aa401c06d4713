"""The Windows host for tests/windows: one Wine prefix per test session (per xdist worker).

Each module carries ``pytestmark = WINDOWS`` (slow, xdist_group "wine"). ``--dist loadgroup``
would keep them in one worker, but with pytest 9.2 and xdist 3.8 it groups nothing (xdist sets
``item._nodeid``, pytest 9 reads ``item._id``): a worker that gets a Windows test boots its
own prefix, and every process the harness looks at or kills is matched by WINEPREFIX.

Skipped loudly when Wine is not installed (scripts/wine-setup.sh installs it); under CI
(SSM_ACTION_REQUIRE_WINE=1 or SSM_ACTION_REQUIRE_CONTAINER=1, set by .ci/run) that fails.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.agent.agent_fixtures import build_wheel
from tests.windows.host import NEWEST, WindowsHost
from tests.windows.winapp import WinApp
from tests.windows.wine import wine_missing
from tests.windows.winpython import CACHE

WAITRESS = "3.0.2"  # as examples/sample-app/requirements.txt; pure Python, any Windows Python


@pytest.fixture(scope="session")
def windows_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WindowsHost]:
    why = wine_missing()
    if why:
        if "1" in (os.environ.get("SSM_ACTION_REQUIRE_WINE"),
                   os.environ.get("SSM_ACTION_REQUIRE_CONTAINER")):
            pytest.fail("Wine is %s but CI requires it (scripts/wine-setup.sh installs it)" % why)
        pytest.skip("WINDOWS TESTS SKIPPED: Wine is %s (scripts/wine-setup.sh installs it)" % why)
    host = WindowsHost(tmp_path_factory.mktemp("wine"))
    try:
        host.start()
        yield host
    finally:
        host.close()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="session")
def waitress_wheels() -> Path:
    """waitress's pure-Python wheel, downloaded once (PyPI) into the shared Wine cache: pip runs
    offline under Wine (PIP_NO_INDEX), so requirements name this folder with --find-links."""
    folder = CACHE / ("wheels-waitress-" + WAITRESS)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "wheels-waitress.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / ".complete").exists():
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
                            "--no-deps", "-d", str(folder), "waitress==" + WAITRESS],
                           check=True, capture_output=True, timeout=600)
            (folder / ".complete").touch()
    return folder


@pytest.fixture(scope="session")
def shared_app(windows_host: WindowsHost, tmp_path_factory: pytest.TempPathFactory,
               wheel: Path) -> Iterator[WinApp]:
    """C:\\srv\\app and its origin, shared by the tests in turn (a first deploy is costly)."""
    win_app = WinApp(windows_host, tmp_path_factory.mktemp("origin"), wheel,
                     windows_host.python(NEWEST))
    try:
        yield win_app
    finally:
        win_app.clean()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    funcargs = getattr(item, "funcargs", {})
    if call.when == "call" and outcome.get_result().failed and "shared_app" in funcargs:
        funcargs["shared_app"].dirty = True  # the next test starts from a fresh deploy


@pytest.fixture
def app(shared_app: WinApp) -> WinApp:
    """C:\\srv empty: the next deploy is a first deploy."""
    shared_app.clean()
    return shared_app


@pytest.fixture
def running(shared_app: WinApp) -> WinApp:
    """A healthy version deployed on the newest Python (reused from the previous test)."""
    shared_app.ensure_running()
    return shared_app
