"""The tests gate: pytest with coverage (pytest-cov), inside the project's environment,
measuring what the project measures (covscope) and naming the cause when pytest cannot run."""

from __future__ import annotations

import json
import os
import re
# Parses the JUnit file pytest just wrote
import xml.etree.ElementTree as ET  # nosec B405
from collections.abc import Callable
from pathlib import Path

from ssm_action.gates import causes, covscope
from ssm_action.gates.base import GateContext, last_line
from ssm_action.gates.model import ERROR, FAILED, HIGH, PASSED, Finding, Outcome

TESTS_FAILED, NO_TESTS = 1, 5  # pytest exit codes; 2, 3 and 4 mean it could not run
COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # a project's --color=yes


def tests(ctx: GateContext) -> Outcome:
    env = ctx.env
    junit, coverage_json = ctx.scratch / "junit.xml", ctx.scratch / "coverage.json"
    cov, why = covscope.scope(ctx.root, ctx.cfg.pytest_args, ctx.cfg.cache_directory)
    ctx.log.note(f"Coverage of: {why}")
    argv = [str(env.python), "-m", "pytest", "-p", "no:cacheprovider", *cov, "--cov-report=term",
            f"--cov-report=json:{coverage_json}", f"--junitxml={junit}", "-o", "junit_family=xunit1",
            *ctx.cfg.pytest_args]
    variables = env.variables()
    variables["COVERAGE_FILE"] = str(ctx.scratch / ".coverage")  # keep the checkout clean
    done = ctx.log.run(argv, cwd=ctx.root, env=variables)
    done.stdout, done.stderr = COLOURS.sub("", done.stdout), COLOURS.sub("", done.stderr)
    coverage = _coverage(ctx.log.read_report, coverage_json)
    failures = _failures(ctx.log.read_report, junit)
    if done.returncode == NO_TESTS:
        return Outcome(FAILED, f"pytest collected no tests: {causes.HINTS[NO_TESTS]}", coverage=coverage)
    if done.returncode not in (0, TESTS_FAILED):
        cause = causes.first_cause(done.stdout, done.stderr, *(f.message for f in failures)) or last_line(done.stderr)
        fix = causes.hint(cause, done.returncode)
        return Outcome(ERROR, f"pytest could not run (exit code {done.returncode}): {cause or 'no output'}"
                       + (f". Fix: {fix}" if fix else ""), failures, coverage=coverage)
    if done.returncode == TESTS_FAILED and not failures:  # e.g. --cov-fail-under in the project's config
        return Outcome(FAILED, f"pytest failed with no failing test: {_reason(done.stdout)}", coverage=coverage)
    if done.returncode == TESTS_FAILED:
        return Outcome(FAILED, f"{len(failures)} test(s) failed: {last_line(done.stdout).strip('= ')}", failures,
                       coverage=coverage)
    return judge_coverage(ctx.cfg.coverage_threshold, coverage, last_line(done.stdout))


def _reason(output: str) -> str:
    """pytest-cov's own verdict when it failed the run, else pytest's last line."""
    for line in output.splitlines():
        if "Required test coverage" in line:
            return line.strip()
    return last_line(output).strip("= ")


def judge_coverage(threshold: float, coverage: float | None, line: str) -> Outcome:
    """The check compares the figure it shows (rounded to 0.1), so its message never contradicts it."""
    if coverage is None:
        return Outcome(ERROR, "the tests passed but pytest-cov wrote no coverage report")
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
