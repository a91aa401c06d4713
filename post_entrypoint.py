#!/usr/bin/env python3
"""post-entrypoint: runs after the main step, even a failed or cancelled one (post-if: always()).

It finalises a GitHub deployment the main step left in_progress, from the
deployment id the main step saved through GITHUB_STATE (STATE_deployment_id).
"""
from ssm_action import runner
from ssm_action.github.deployment import finalise_leftover

if __name__ == "__main__":
    try:
        finalise_leftover()  # never fails the job: a problem is a warning
    finally:
        runner.flush()
