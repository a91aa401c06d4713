"""Running a command to completion, its output in the log."""

from __future__ import annotations

import os
import subprocess  # nosec B404 # running git, pip, hooks and the app is the agent's job
from typing import Dict, List, NamedTuple, Optional, Union

from ssm_action.agent.errors import StepError
from ssm_action.agent.output import Reporter

GIT_TIMEOUT = 600


class Ran(NamedTuple):
    code: int
    out: str
    err: str


class Shell:
    def __init__(self, rep: Reporter) -> None:
        self.rep = rep

    def run(self, argv: Union[List[str], str], cwd: Optional[str] = None,
            env: Optional[Dict[str, str]] = None, timeout: float = GIT_TIMEOUT,
            quiet: bool = False) -> Ran:
        """Run ``argv`` (a str: a Windows command line, as it is); its output goes to the log (unless quiet)."""
        words = [argv] if isinstance(argv, str) else argv
        self.rep.log("$ " + " ".join(words))
        try:
            done = subprocess.run(  # nosec B603 # argv lists built by the agent, no shell
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StepError("%s did not finish within %ds" % (os.path.basename(words[0]), timeout))
        except OSError as exc:
            raise StepError("cannot run %s: %s" % (words[0], exc))
        ran = Ran(done.returncode, done.stdout.decode("utf-8", "replace"),
                  done.stderr.decode("utf-8", "replace"))
        if not quiet:
            self.rep.log(ran.out + ran.err)
        self.rep.log("exit %d" % ran.code)
        return ran
