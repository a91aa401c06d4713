"""The tests gate: the project's tests run the way it runs them (testcommand), inside its
environment, with coverage measured around them (pytest-cov for pytest, coverage.py for
the others) on what the project measures (covscope); the same counts, causes and fixes
whatever ran them."""

from __future__ import annotations

import json
import os
import re
# Parses the JUnit file pytest just wrote
import xml.etree.ElementTree as ET  # nosec B405
from collections.abc import Callable
from pathlib import Path

from ssm_action.gates import causes, coverage_run, covscope, isolation, testcommand, testresults
from ssm_action.gates.base import GateContext, last_line
from ssm_action.gates.coverage_run import Ran
from ssm_action.gates.model import ERROR, FAILED, HIGH, PASSED, Finding, Outcome
from ssm_action.gates.testcommand import PYTEST, TestCommand

TESTS_FAILED, NO_TESTS = 1, 5  # pytest exit codes; 2, 3 and 4 mean it could not run
COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # a project's --color=yes
RUNNER_OWN = ("INPUT_", "ACTIONS_")  # withheld, but set by the runner, not by the workflow
WIDE = "500"  # terminal columns: pytest's short summary never cuts a cause off
FRAME_PACKAGE = re.compile(r'File "[^"]*/site-packages/([^/"]+)/')  # a traceback frame's installed package
PLUGIN_HINT = ("a package does not suit the installed pytest or pluggy: pin a version of it that does in the "
               "project's test dependencies")


def tests(ctx: GateContext) -> Outcome:
    env = ctx.env
    command = testcommand.choose(ctx.root, ctx.cfg.test_command)
    ctx.log.note(f"Test command: {command.describe()}")
    cwd = ctx.root / command.cwd
    if not cwd.is_dir():
        return Outcome(ERROR, f"the tests run in {command.cwd}, which is not a folder of the project. "
                              f"Fix: set test-command (ran {command.describe()})")
    variables = env.variables()
    variables["COVERAGE_FILE"] = str(ctx.scratch / ".coverage")  # keep the checkout clean
    variables["COLUMNS"] = WIDE
    for name, value in command.env:
        if name == "DJANGO_SETTINGS_MODULE":  # manage.py's default: the workflow's own value wins
            variables.setdefault(name, value)
        else:
            variables[name] = value
    ran = _pytest(ctx, command, cwd, variables) if command.runner == PYTEST else coverage_run.run(
        ctx, command, cwd, variables)
    outcome = _pytest_verdict(ctx, ran) if command.runner == PYTEST else _verdict(ctx, ran)
    if outcome.state == ERROR or outcome.findings:  # tests failed or could not run: maybe for a variable
        outcome.message += withheld(ctx)
    outcome.message += f" (ran {command.describe()})"
    if not (ran.counts and ran.counts.ran):
        outcome.coverage = None  # no figure for a run that tested nothing
    return outcome


def withheld(ctx: GateContext) -> str:
    """The secret-named variables the workflow set that the tested code did not see."""
    names = [name for name in isolation.removed(ctx.env.keep) if not name.startswith(RUNNER_OWN)]
    if not names:
        return ""
    return (f". The tests did not see {', '.join(names)} (withheld: the names look secret); "
            "if they need them, list them in pass-env")


def _pytest(ctx: GateContext, command: TestCommand, cwd: Path, variables: dict[str, str]) -> Ran:
    junit, coverage_json = ctx.scratch / "junit.xml", ctx.scratch / "coverage.json"
    args = [*command.args, *ctx.cfg.pytest_args]
    cov, why = _cov_options(ctx, command, args)
    ctx.log.note(f"Coverage of: {why}")
    argv = [str(ctx.env.python), "-m", "pytest", "-p", "no:cacheprovider", *cov, "--cov-report=term",
            f"--cov-report=json:{coverage_json}", f"--junitxml={junit}", "-o", "junit_family=xunit1", *args]
    done = ctx.log.run(argv, cwd=cwd, env=variables)
    done.stdout, done.stderr = COLOURS.sub("", done.stdout), COLOURS.sub("", done.stderr)
    read = ctx.log.read_report
    return Ran(done.returncode, done.stdout, done.stderr, testresults.from_pytest(done.stdout), _failures(read, junit),
               _coverage(read, coverage_json))


def _cov_options(ctx: GateContext, command: TestCommand, args: list[str]) -> tuple[list[str], str]:
    """pytest-cov's options: the scope (a `coverage run`'s --source as --cov), and the
    configuration without tests and generated code (or with the command line's --omit)."""
    given = dict(_pairs(command.coverage))
    if "--source" in given:
        cov = [f"--cov={name}" for name in given["--source"].split(",") if name]
        why = "--source on the project's command line"
    else:
        cov, why = covscope.scope(ctx.root, args, ctx.cfg.cache_directory)
    if "--branch" in command.coverage:
        cov.append("--cov-branch")
    if "--rcfile" in given:
        return [*cov, f"--cov-config={given['--rcfile']}"], why
    omit = [pattern for pattern in given.get("--omit", "").split(",") if pattern]
    rcfile, rc_why = covscope.rcfile(ctx.root, ctx.scratch, omit)
    return ([*cov, f"--cov-config={rcfile}"] if rcfile else cov), f"{why}; {rc_why}"


def _pairs(options: tuple[str, ...]) -> list[tuple[str, str]]:
    """`--source x` and `--source=x` as (option, value)."""
    found, words = [], list(options)
    while words:
        word = words.pop(0)
        if "=" in word:
            found.append(tuple(word.split("=", 1)))
        elif word in testcommand.COVERAGE_VALUES and words:
            found.append((word, words.pop(0)))
    return found  # type: ignore[return-value]


def _pytest_verdict(ctx: GateContext, ran: Ran) -> Outcome:
    coverage, failures = ran.coverage, ran.failures
    if ran.returncode == NO_TESTS:
        return Outcome(FAILED, f"pytest collected no tests: {causes.HINTS[NO_TESTS]}")
    if ran.returncode not in (0, TESTS_FAILED):
        cause = causes.first_cause(ran.stdout, ran.stderr, *(f.message for f in failures)) or last_line(ran.stderr)
        fix = causes.hint(cause, ran.returncode)
        return Outcome(ERROR, f"pytest could not run (exit code {ran.returncode}): {cause or 'no output'}"
                       + (f". Fix: {fix}" if fix else ""), failures, coverage=coverage)
    if ran.returncode == TESTS_FAILED and ran.counts is None and not failures and "Traceback" in ran.stderr:
        return _crashed(ran)
    counted = ran.counts.words() if ran.counts else last_line(ran.stdout).strip("= ")
    if ran.returncode == TESTS_FAILED and not failures:  # e.g. --cov-fail-under in the project's config
        return Outcome(FAILED, f"pytest failed with no failing test: {_reason(ran.stdout)}", coverage=coverage)
    if ran.returncode == TESTS_FAILED:
        return Outcome(FAILED, f"{len(failures)} test(s) failed: {counted}", failures, coverage=coverage)
    return judge_coverage(ctx.cfg.coverage_threshold, coverage, counted)


def _crashed(ran: Ran) -> Outcome:
    """pytest died of an exception before its summary (exit code 1 without counts), e.g. a plugin
    that its pluggy cannot load: the exception and the package it was raised in."""
    cause = causes.first_cause(ran.stderr) or last_line(ran.stderr)
    packages = FRAME_PACKAGE.findall(ran.stderr)
    where = f" (raised in {packages[-1]})" if packages else ""
    return Outcome(ERROR, f"pytest crashed before running the tests: {cause}{where}. Fix: {PLUGIN_HINT}")


def _verdict(ctx: GateContext, ran: Ran) -> Outcome:
    """unittest's, Django's or a command's run: its counts, else the cause it could not run."""
    counts, failures, coverage = ran.counts, ran.failures, ran.coverage
    if counts is None:
        cause = causes.first_cause(ran.stderr, ran.stdout) or last_line(ran.stderr) or last_line(ran.stdout)
        fix = causes.hint(cause, 2)
        return Outcome(ERROR if ran.returncode else FAILED,
                       f"the tests could not run (exit code {ran.returncode}): {cause or 'no output'}"
                       + (f". Fix: {fix}" if fix else ""), failures)
    if not counts.ran:
        return Outcome(FAILED, "no tests ran: check test-command and the project's test discovery")
    if counts.failed or counts.errors:
        return Outcome(FAILED, f"{counts.failed + counts.errors} test(s) failed: {counts.words()}", failures,
                       coverage=coverage)
    if ran.returncode != 0:
        return Outcome(FAILED, f"the test command failed (exit code {ran.returncode}) with no failing test: "
                               f"{last_line(ran.stderr) or last_line(ran.stdout)}", coverage=coverage)
    return judge_coverage(ctx.cfg.coverage_threshold, coverage, counts.words())


def _reason(output: str) -> str:
    """pytest-cov's own verdict when it failed the run, else pytest's last line."""
    for line in output.splitlines():
        if "Required test coverage" in line:
            return line.strip()
    return last_line(output).strip("= ")


def judge_coverage(threshold: float, coverage: float | None, line: str) -> Outcome:
    """The check compares the figure it shows (rounded to 0.1), so its message never contradicts it."""
    if coverage is None:
        return Outcome(ERROR, "the tests passed but no coverage report was written")
    shown = f"coverage {coverage:.1f}%"
    if threshold and coverage < threshold:
        return Outcome(FAILED, f"{shown} is below the coverage-threshold of {threshold:g}%", coverage=coverage)
    return Outcome(PASSED, f"{line.strip('= ')}; {shown}", coverage=coverage)


def _coverage(read: Callable[[Path], str], path: Path) -> float | None:
    try:
        return round(float(json.loads(read(path))["totals"]["percent_covered"]), 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _failures(read: Callable[[Path], str], path: Path) -> list[Finding]:
    """Failed tests and collection errors with their file, line and first cause (the
    xunit1 JUnit flavour carries file and line; the element's text, the traceback)."""
    try:
        # Our own pytest run wrote it
        root = ET.fromstring(read(path))  # nosec B314
    except (OSError, ET.ParseError):
        return []
    found = []
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        line = case.get("line")
        message = (problem.get("message") or "").strip()
        cause = causes.first_cause(problem.text or "")
        if not message or message.startswith("collection failure") or (problem.tag == "error" and cause):
            message = cause or message or problem.tag
        found.append(Finding(
            path=os.path.normpath(case.get("file", "")) if case.get("file") else "",
            line=int(line) + 1 if line and line.isdigit() else None,  # pytest counts lines from 0 here
            col=None,
            code=f"{case.get('classname', '')}.{case.get('name', '')}".strip("."),
            message=message.splitlines()[0] if message else problem.tag,
            severity=HIGH,
        ))
    return found
