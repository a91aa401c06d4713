#!/usr/bin/env python3
"""post-entrypoint: runs after the main step, even a failed or cancelled one (post-if: always()).

It finalises a GitHub deployment the main step left in_progress, from the
deployment id the main step saved through GITHUB_STATE (STATE_deployment_id).
"""
import sys

from ssm_action import runner
from ssm_action.deployments import finalise_leftover

if __name__ == "__main__":
    try:
        sys.exit(finalise_leftover())
    finally:
        runner.flush()
