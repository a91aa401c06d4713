"""Running a command: output to the log, a clear error for a missing program or a timeout."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ssm_action.agent.errors import StepError
from ssm_action.agent.output import Redactor, Reporter
from ssm_action.agent.shell import Shell


def test_output_goes_to_the_log_unless_quiet(tmp_path: Path):
    rep = Reporter(Redactor())
    rep.open_log(str(tmp_path / "log"))
    shell = Shell(rep)
    ran = shell.run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"])
    assert (ran.code, ran.out.strip(), ran.err) == (3, "out", "")
    shell.run([sys.executable, "-c", "print('hid' + 'den')"], quiet=True)
    rep.close()
    log = (tmp_path / "log").read_text()
    assert " out\n" in log and "exit 3" in log and "hidden" not in log


def test_missing_program_and_timeout_are_step_errors(tmp_path: Path):
    shell = Shell(Reporter(Redactor()))
    with pytest.raises(StepError, match="cannot run .*no-such-program"):
        shell.run([str(tmp_path / "no-such-program")])
    with pytest.raises(StepError, match="did not finish within 0s"):
        shell.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)
