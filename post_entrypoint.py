#!/usr/bin/env python3
"""post-entrypoint: runs after the main step, even a failed or cancelled one (post-if: always()).

It finalises a GitHub deployment the main step left in_progress, from the
deployment id the main step saved through GITHUB_STATE (STATE_deployment_id).
The main step always saves STATE_started first, so no STATE_* at all means this
runner passes no state to a docker action's post step (act, Gitea's and Forgejo's
act_runner): say so rather than finish silently.
"""
import os

from ssm_action import runner
from ssm_action.github.deployment import finalise_leftover

NO_STATE = ("The post step received no state from the main step (this runner passes no STATE_* values "
            "to a docker action's post step, as act and Gitea/Forgejo act_runner do), so it cannot "
            "finalise a GitHub deployment that a cancelled run left in progress here.")

if __name__ == "__main__":
    try:
        if not any(name.startswith("STATE_") for name in os.environ):
            runner.notice(NO_STATE, title="Post step without state")
        else:
            finalise_leftover()  # never fails the job: a problem is a warning
    finally:
        runner.flush()
