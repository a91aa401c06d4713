"""The per-app deploy lock: an OS lock the OS drops when its holder dies."""

from __future__ import annotations

import os
from typing import IO, Optional

from ssm_action.agent.errors import Busy
from ssm_action.agent.files import StateDir
from ssm_action.agent.host import Platform
from ssm_action.agent.output import utc_now
from ssm_action.agent.layout import LOCK, OWNER


class DeployLock:
    """``deploy.lock`` held with flock / msvcrt for the whole deploy."""

    def __init__(self, records: StateDir, plat: Platform) -> None:
        self.records = records
        self.plat = plat
        self.handle: Optional[IO[bytes]] = None

    @property
    def held(self) -> bool:
        return self.handle is not None

    def take(self, deploy_id: str) -> str:
        handle = open(self.records.path(LOCK), "a+b")
        if not self.plat.try_lock(handle.fileno()):
            owner = self.records.read(OWNER)
            handle.close()
            raise Busy("another deploy (%s, pid %s, since %s) is running for this app: wait "
                       "for it to finish, then retry" % (owner.get("deploy_id", "?"),
                                                         owner.get("pid", "?"),
                                                         owner.get("since", "?")))
        self.handle = handle
        self.records.remove_temporary()
        stale = self.records.read(OWNER)
        self.records.write(OWNER, {"pid": os.getpid(), "since": utc_now(),
                                   "deploy_id": deploy_id})
        if stale:
            return "took over a stale lock: deploy %s (pid %s) is gone" % (
                stale.get("deploy_id"), stale.get("pid"))
        return "acquired"

    def release(self) -> None:
        self.records.remove(OWNER)
        if self.handle is not None:
            self.handle.close()
            self.handle = None
