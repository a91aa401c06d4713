"""The action's CLI, run as the entrypoint runs it, with a stand-in transport.

FAKE_OUTCOME=ok|failed|rolled_back gives that outcome on three targets; wait
sleeps (until a signal) after saying so. For end-to-end runs that test signals,
file commands and the post-entrypoint without a real deploy.
    python -m tests.deployments.fake_entrypoint
"""

import os
import sys
import time

from ssm_action import cli, deploy
from ssm_action.results import DeployOutcome
from tests.deployments.stand_ins import outcome


def transport(*_: object) -> DeployOutcome:
    how = os.environ["FAKE_OUTCOME"]
    if how == "wait":
        print("fake transport: waiting", flush=True)
        time.sleep(120)
    return outcome(how, how, how)


if __name__ == "__main__":
    deploy._run_transport = transport
    sys.exit(cli.main())
