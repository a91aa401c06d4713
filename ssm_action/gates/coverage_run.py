"""Tests run by unittest, Django's `manage.py test` or a Python command as the project
gives it, inside coverage.py (`coverage run`), measuring what the project measures: the
--source/--omit on its command line, else its coverage configuration, else its own code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ssm_action.gates import covscope, testcommand, testresults
from ssm_action.gates.base import GateContext
from ssm_action.gates.model import Finding
from ssm_action.gates.testcommand import DJANGO, UNITTEST, TestCommand

SCOPE_OPTIONS = ("--source", "--include")


@dataclass
class Ran:
    """One test command's run: its exit code and output, what it counted and measured."""

    returncode: int
    stdout: str
    stderr: str
    counts: testresults.Counts | None
    failures: list[Finding] = field(default_factory=list)
    coverage: float | None = None


def run(ctx: GateContext, command: TestCommand, cwd: Path, variables: dict[str, str]) -> Ran:
    python = str(ctx.env.python)
    options = list(command.coverage)
    measured = _python_words(command)
    if measured is None:  # not Python: run as given, without coverage
        done = ctx.log.run(list(command.args), cwd=cwd, env=variables)
        output = f"{done.stdout}\n{done.stderr}"
        return Ran(done.returncode, done.stdout, done.stderr, _counts(output),
                   testresults.unittest_failures(output, ctx.root))
    options += scope_options(ctx, command, cwd)
    done = ctx.log.run([python, "-m", "coverage", "run", *options, *measured], cwd=cwd, env=variables)
    output = f"{done.stdout}\n{done.stderr}"
    counts = _counts(output)
    ran = Ran(done.returncode, done.stdout, done.stderr, counts, testresults.unittest_failures(output, ctx.root))
    if counts and counts.ran:
        ran.coverage = _report(ctx, python, cwd, variables, _rcfile(options))
    return ran


def _python_words(command: TestCommand) -> list[str] | None:
    """What `coverage run` runs: -m unittest ..., manage.py test ..., a script; None when not Python."""
    if command.runner == UNITTEST:
        return ["-m", "unittest", *command.args]
    if command.runner == DJANGO:
        return list(command.args)
    words = list(command.args)
    if words and testcommand.PYTHON.match(Path(words[0]).name) and len(words) > 1:
        return words[1:]
    return None


def scope_options(ctx: GateContext, command: TestCommand, cwd: Path) -> list[str]:
    """--source (the project's own code) unless its command line or configuration chooses one;
    --rcfile with tests and generated code left out unless its configuration says otherwise."""
    options = list(command.coverage)
    added: list[str] = []
    if not any(word.startswith(SCOPE_OPTIONS) for word in options) and not covscope.configured_source(ctx.root):
        names = covscope.own_code(cwd, ctx.cfg.cache_directory) or covscope.own_code(ctx.root, ctx.cfg.cache_directory)
        if names:
            added.append(f"--source={','.join(names)}")
    if not any(word.startswith("--rcfile") for word in options):
        rcfile, why = covscope.rcfile(ctx.root, ctx.scratch)
        ctx.log.note(f"Coverage configuration: {why}")
        if rcfile:
            added.append(f"--rcfile={rcfile}")
    return added


def _rcfile(options: list[str]) -> list[str]:
    found = []
    for index, word in enumerate(options):
        if word.startswith("--rcfile="):
            found = [word]
        elif word == "--rcfile" and index + 1 < len(options):
            found = [f"--rcfile={options[index + 1]}"]
    return found


def _counts(output: str) -> testresults.Counts | None:
    return testresults.from_unittest(output) or testresults.from_pytest(output)


def _report(ctx: GateContext, python: str, cwd: Path, variables: dict[str, str], rcfile: list[str]) -> float | None:
    """The total of the measurement (parallel data files combined first, as `coverage combine` does)."""
    data = Path(variables["COVERAGE_FILE"])
    if any(data.parent.glob(f"{data.name}.*")):
        ctx.log.run([python, "-m", "coverage", "combine", *rcfile], cwd=cwd, env=variables)
    report = ctx.scratch / "coverage.json"
    done = ctx.log.run([python, "-m", "coverage", "json", *rcfile, "-o", str(report)], cwd=cwd, env=variables)
    ctx.log.run([python, "-m", "coverage", "report", *rcfile], cwd=cwd, env=variables)
    if done.returncode not in (0, 2):  # 2: under the project's fail_under, still a report
        return None
    try:
        return round(float(json.loads(ctx.log.read_report(report))["totals"]["percent_covered"]), 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
