"""Text from the servers (the agent's output, the app's last lines) and from the project's
tools is printed into the job log, but never read there as a workflow command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ssm_action import runner
from ssm_action.deploy.model import InstanceResult
from ssm_action.transports import local
from ssm_action.transports.ssm import waves
from ssm_action.transports.ssm.collect import Collector
from tests.command_parsers import executed

HOSTILE = "\n".join(["starting", "::add-mask::x", "  ::set-output name=result::success", "ok ##[error]forged here",
                     "::error::boom", "##[add-mask]y", "\t::warning file=a.py::late"])
RUNNERS = ("github", "act")


@pytest.fixture
def github(monkeypatch):
    runner.reset()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    yield
    runner.reset()


def test_the_stand_in_parsers_do_read_the_hostile_text():
    """Printed as it is, each runner would act on it: the tests below can fail."""
    assert {name for name, _ in executed(HOSTILE, "github")} == {"add-mask", "set-output", "error", "warning"}
    assert {name for name, _ in executed(HOSTILE, "act")} == {"add-mask", "error"}


@pytest.mark.parametrize("which", RUNNERS)
def test_a_remote_text_issues_no_command(github, capsys, which):
    runner.log_verbatim(HOSTILE)
    runner.error("our own annotation")
    out = capsys.readouterr().out
    assert "::add-mask::x" in out and "##[error]forged here" in out  # shown, as it was
    assert executed(out, which) == [("error", "our own annotation")]  # commands resume after the block


def test_each_block_has_its_own_token(github, capsys):
    runner.log_verbatim("a")
    runner.log_verbatim("b")
    starts = [line for line in capsys.readouterr().out.splitlines() if line.startswith("::stop-commands::")]
    assert len(starts) == 2 and starts[0] != starts[1] and len(starts[0]) > len("::stop-commands::") + 30


@pytest.mark.parametrize("which", RUNNERS)
def test_the_agents_output_and_the_result_lines_issue_no_command(github, capsys, which):
    failed = InstanceResult("i-0123456789abcdef0", "Failed", output=HOSTILE, error="##[add-mask]z ::error::e")
    waves.show_outputs([failed])
    runner.log(Collector.line(failed))  # as printed before: the test of the line below can fail
    unguarded = capsys.readouterr().out
    assert ("add-mask", "z ::error::e") in executed(unguarded, "github")
    collector = Collector(None, None, None)  # type: ignore[arg-type]
    collector.result = lambda watch: failed  # type: ignore[method-assign]
    collector([object()])  # type: ignore[list-item]
    waves.show_outputs([failed])
    out = capsys.readouterr().out
    assert [name for name, _ in executed(out, which)] == ["group", "endgroup"]


@pytest.mark.parametrize("which", RUNNERS)
def test_the_local_agents_lines_issue_no_command_even_without_a_last_newline(github, capsys, which):
    proc = subprocess.Popen([sys.executable, "-c", f"import sys; sys.stdout.write({HOSTILE!r})"],
                            stdout=subprocess.PIPE, text=True)
    output, code, timed_out = local._follow(proc, 60)
    assert (output, code, timed_out) == (HOSTILE, 0, False)
    runner.error("after")
    assert executed(capsys.readouterr().out, which) == [("error", "after")]


@pytest.mark.parametrize("which", RUNNERS)
def test_a_gates_log_issues_no_command(github, capsys, which):
    """The project's tests print what they like (a fork's pull request too)."""
    from ssm_action.gates import report
    from ssm_action.gates.model import FAILED, HIGH, Finding, GateResult, Outcome

    finding = Finding("a.py", 1, None, "t", "::add-mask::f", HIGH)
    report.show_result(GateResult("tests", True, Outcome(FAILED, "1 test(s) failed", [finding]), 1.0, 1.0, HOSTILE))
    assert [name for name, _ in executed(capsys.readouterr().out, which)] == ["group", "endgroup"]
