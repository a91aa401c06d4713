"""flake8, pylint and bandit on the project's code, with the project's own configuration
(they run in the working directory, where they find setup.cfg, tox.ini, .flake8,
.pylintrc, pyproject.toml and .bandit)."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from ssm_action.gates import sarif, tools
from ssm_action.gates.base import GateContext, conclude
from ssm_action.gates.model import HIGH, INFO, LOW, MEDIUM, SKIPPED, Finding, Outcome

FLAKE8_HIGH = ("E9", "F63", "F7", "F82")  # syntax errors, undefined names: code that cannot run
PYLINT_SEVERITY = {"fatal": HIGH, "error": HIGH, "warning": MEDIUM, "refactor": LOW, "convention": LOW, "info": INFO}
BANDIT_SEVERITY = {"HIGH": HIGH, "MEDIUM": MEDIUM, "LOW": LOW}
PYLINT_USAGE_ERROR = 32  # pylint's exit status is a bit field; 32 means it could not run


def _no_code(ctx: GateContext) -> Outcome | None:
    return None if ctx.targets else Outcome(SKIPPED, "no Python files in the working directory")


def flake8(ctx: GateContext) -> Outcome:
    if skipped := _no_code(ctx):
        return skipped
    # flake8-sarif loses the report with --output-file: it prints it instead.
    argv = [tools.path("flake8"), *ctx.cfg.flake8_args, "--format=sarif", *ctx.targets]
    done = ctx.log.run(argv, cwd=ctx.root, log_stdout=False)
    return _sarif_outcome(ctx, "flake8", done, sarif.parse(done.stdout), _flake8_severity)


def _flake8_severity(result: dict[str, Any]) -> int:
    code = result.get("ruleId", "")
    if code.startswith(FLAKE8_HIGH):
        return HIGH
    return MEDIUM if code.startswith(("F", "C9")) else LOW


def bandit(ctx: GateContext) -> Outcome:
    if skipped := _no_code(ctx):
        return skipped
    report = ctx.scratch / "bandit.sarif"
    argv = [tools.path("bandit"), *_bandit_config(ctx), *ctx.cfg.bandit_args,
            "--quiet", "--format", "sarif", "--output", str(report), "--recursive", *ctx.targets]
    done = ctx.log.run(argv, cwd=ctx.root)
    return _sarif_outcome(ctx, "bandit", done, sarif.read(report), _bandit_severity)


def _bandit_config(ctx: GateContext) -> list[str]:
    """bandit reads .bandit and pyproject.toml only when told to."""
    args = ["--ini", ".bandit"] if (ctx.root / ".bandit").is_file() else []
    pyproject = ctx.root / "pyproject.toml"
    if pyproject.is_file() and "bandit" in tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}):
        args += ["--configfile", "pyproject.toml"]
    return args


def _bandit_severity(result: dict[str, Any]) -> int:
    return BANDIT_SEVERITY.get(result.get("properties", {}).get("issue_severity", ""), LOW)


def _sarif_outcome(ctx: GateContext, tool: str, done: Any, doc: dict[str, Any] | None,
                   severity: sarif.Severity) -> Outcome:
    """Findings from the tool's SARIF report; a rebased copy is kept for code scanning."""
    outcome = conclude(done, sarif.findings(doc, severity) if doc else None, tool)
    if doc:
        outcome.sarif = sarif.write_rebased(doc, ctx.repo_prefix, ctx.sarif_dir / f"{tool}.sarif")
    return outcome


def pylint(ctx: GateContext) -> Outcome:
    if skipped := _no_code(ctx):
        return skipped
    # Appended, not prepended: the project's packages must not replace pylint's own.
    hook = f"import sys; sys.path.append({str(ctx.env.site_packages)!r})"
    report = ctx.scratch / "pylint.json"
    argv = [tools.path("pylint"), f"--init-hook={hook}", *ctx.cfg.pylint_args,
            f"--output-format=json2:{report}", "--persistent=n", *ctx.targets]
    done = ctx.log.run(argv, cwd=ctx.root)
    try:
        messages = json.loads(report.read_text(encoding="utf-8"))["messages"]
    except (OSError, ValueError, KeyError, TypeError):
        return conclude(done, None, "pylint")
    found = [_pylint_finding(m) for m in messages]
    if done.returncode & PYLINT_USAGE_ERROR:
        return conclude(done, found, "pylint", fail_codes=())
    return conclude(done, found, "pylint", fail_codes=range(1, PYLINT_USAGE_ERROR))


def _pylint_finding(m: dict[str, Any]) -> Finding:
    col = m["column"] + 1 if isinstance(m.get("column"), int) else None  # pylint counts columns from 0
    return Finding(m["path"], m.get("line"), col, f"{m['messageId']} {m['symbol']}", m["message"],
                   PYLINT_SEVERITY.get(m.get("type", ""), LOW))
