"""The action the agent is asked to do, with the runner's wording for it. The action's alone: the agent
compares the parameter's text with ``checks.ACTIONS``, so its zipapp does not carry this module."""

from __future__ import annotations

import enum


class Action(str, enum.Enum):
    """What the agent is asked to do on each server (the ``mode`` for the three that reach servers), and how
    the action says it: a name, what is being done, what was done (``%s``: the commit's short sha)."""

    DEPLOY = "deploy"
    STATUS = "status"
    ROLLBACK = "rollback"

    @property
    def noun(self) -> str:
        return self.value.capitalize()

    @property
    def doing(self) -> str:
        return {"deploy": "Deploying %s to", "status": "Reading the status of",
                "rollback": "Putting the last good version back on"}[self.value]

    @property
    def done(self) -> str:
        return {"deploy": "Deployed %s to", "status": "Status from",
                "rollback": "Put the last good version back on"}[self.value]
