"""flake8, ruff, pylint and bandit on the project's code, with the project's own
configuration (they run in the working directory, where they find setup.cfg, tox.ini,
.flake8, ruff.toml, .pylintrc, pyproject.toml and .bandit)."""

from __future__ import annotations

import json
from typing import Any

from ssm_action.gates import lintdefaults, lintpins, sarif, tools
from ssm_action.gates.base import GateContext, conclude
from ssm_action.gates.projectfiles import pre_commit_args, pre_commit_hook, pyproject
from ssm_action.gates.model import HIGH, INFO, LOW, MEDIUM, SKIPPED, Finding, Outcome

FLAKE8_HIGH = ("E9", "F63", "F7", "F82")  # syntax errors, undefined names: code that cannot run
PYLINT_SEVERITY = {"fatal": HIGH, "error": HIGH, "warning": MEDIUM, "refactor": LOW, "convention": LOW, "info": INFO}
BANDIT_SEVERITY = {"HIGH": HIGH, "MEDIUM": MEDIUM, "LOW": LOW}
PYLINT_USAGE_ERROR = 32  # pylint's exit status is a bit field; 32 means it could not run
RUFF_FILES = ("ruff.toml", ".ruff.toml")
FLAKE8_SECTIONS = (("setup.cfg", "[flake8]"), ("tox.ini", "[flake8]"), (".flake8", "[flake8]"))
# pylint resolves the project's imports from the project's environment only: once its
# checkers are loaded, its own packages leave sys.path (where astroid looks) and stay
# importable for pylint through a finder of their own. An undeclared import is then
# reported as import-error.
PYLINT_HOOK = """exec({code!r}, {{}})"""
PYLINT_CODE = """import sys, sysconfig, importlib.machinery as m, importlib.metadata as md
from pylint.lint import PyLinter
own = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
class _PylintOwnPackages:
    def find_spec(self, name, path=None, target=None):
        return m.PathFinder.find_spec(name, sorted(own)) if path is None else None
    def find_distributions(self, context=md.DistributionFinder.Context()):
        mine = md.DistributionFinder.Context(name=context.name, path=sorted(own))
        return md.MetadataPathFinder.find_distributions(mine)
original = PyLinter.check
def check(self, files_or_modules):
    sys.meta_path.insert(sys.meta_path.index(m.PathFinder), _PylintOwnPackages())
    sys.path[:] = [p for p in sys.path if p not in own] + [SITE]
    return original(self, files_or_modules)
PyLinter.check = check"""


def _no_code(ctx: GateContext) -> Outcome | None:
    return None if ctx.targets else Outcome(SKIPPED, "no Python files in the working directory")


def flake8(ctx: GateContext) -> Outcome:
    if skipped := _no_code(ctx):
        return skipped
    if ruff_stands_in_for_flake8(ctx):
        return Outcome(SKIPPED, "the project configures ruff, not flake8: the ruff gate judges its style in "
                                "flake8's place, blocking where flake8 would (flake8-args would run flake8 anyway)")
    # The project's pre-commit hook arguments are how its CI runs flake8 (e.g. --max-line-length 100).
    hook_args = pre_commit_args(ctx.root, "flake8")
    defaults, said = ([], []) if ctx.cfg.flake8_args else lintdefaults.flake8(
        ctx.root, ctx.targets, _configures_flake8(ctx) or bool(hook_args))
    command, which = _flake8_command(ctx)
    # flake8-sarif loses the report with --output-file: it prints it instead.
    argv = [*command, *defaults, *hook_args, *ctx.cfg.flake8_args, "--format=sarif", *ctx.targets]
    done = ctx.log.run(argv, cwd=ctx.root, log_stdout=False)
    outcome = _sarif_outcome(ctx, "flake8", done, sarif.parse(done.stdout), _flake8_severity)
    outcome.message += which + "".join(f"; {line}" for line in said)
    if hook_args:
        outcome.message += f"; with the project's pre-commit arguments {' '.join(hook_args)}"
    if uses_ruff(ctx) and not _configures_flake8(ctx):
        outcome.message += ("; the project configures ruff, not flake8: these are flake8's defaults. "
                            "To follow the project, put ruff in place of flake8 in gates and blocking-gates")
    return outcome


def ruff_stands_in_for_flake8(ctx: GateContext) -> bool:
    """A project that chose ruff (and says nothing of flake8) is judged by ruff, as its own CI does:
    flake8's defaults (79 columns) would block it on rules it never adopted."""
    return ("ruff" in ctx.cfg.gates and not ctx.cfg.flake8_args and uses_ruff(ctx)
            and not _configures_flake8(ctx))


def uses_ruff(ctx: GateContext) -> bool:
    return any((ctx.root / name).is_file() for name in RUFF_FILES) or "ruff" in _pyproject_tools(ctx)


def _configures_flake8(ctx: GateContext) -> bool:
    for name, section in FLAKE8_SECTIONS:
        path = ctx.root / name
        if path.is_file() and section in path.read_text(encoding="utf-8", errors="replace"):
            return True
    return "flake8" in _pyproject_tools(ctx) or pre_commit_hook(ctx.root, "flake8") is not None


def _pyproject_tools(ctx: GateContext) -> dict[str, Any]:
    return pyproject(ctx.root).get("tool", {})


def ruff(ctx: GateContext) -> Outcome:
    """ruff check with the project's configuration (without one, only when ruff-args say how)."""
    if skipped := _no_code(ctx):
        return skipped
    if not uses_ruff(ctx) and not ctx.cfg.ruff_args:
        return Outcome(SKIPPED, "the project does not configure ruff (ruff-args would run it anyway)")
    report = ctx.scratch / "ruff.sarif"
    command, which = _ruff_command(ctx)
    # --no-fix last: a gate never rewrites the user's code, even where the project sets fix = true
    defaults, said = ([], []) if ctx.cfg.ruff_args else lintdefaults.ruff(ctx.root, ctx.targets)
    argv = [*command, "check", "--no-cache", *defaults, *ctx.cfg.ruff_args, "--no-fix", "--output-format", "sarif",
            "--output-file", str(report), *ctx.targets]
    done = ctx.log.run(argv, cwd=ctx.root)
    doc = sarif.read(report, ctx.log.read_report)
    outcome = _sarif_outcome(ctx, "ruff", done, doc and sarif.relative_to(doc, ctx.root), _ruff_severity)
    outcome.message += which + "".join(f"; {line}" for line in said)
    return outcome


def _ruff_command(ctx: GateContext) -> tuple[list[str], str]:
    """The ruff the project pins (rules change between versions: structlog had 55 findings with a newer
    ruff, 0 with its own), else the action's; and a note saying which ran."""
    pins = lintpins.pinned(ctx.root, "ruff")
    if not pins.version:
        return [tools.path("ruff")], ""
    said = f"ruff {pins.version}, as the project's {pins.source} pins it"
    return _pinned_tool(ctx, f"ruff {pins.version}", [f"ruff=={pins.version}"], said)


def _flake8_command(ctx: GateContext) -> tuple[list[str], str]:
    """flake8 at the project's version with its plugins, when it pins one or declares plugins."""
    pins = lintpins.pinned(ctx.root, "flake8")
    if not (pins.version or pins.plugins):
        return [tools.path("flake8")], ""
    version = pins.version or ctx.log.run([tools.path("flake8"), "--version"], cwd=ctx.root).stdout.split(" ")[0]
    plugins = f" with {', '.join(pins.plugins)}" if pins.plugins else ""
    why = f"pins it in {pins.source}" if pins.version else "declares its plugins"
    said = f"flake8 {version}{plugins}, as the project {why}"
    requirements = [f"flake8=={version}" if version else "flake8", "flake8-sarif", *pins.plugins]
    return _pinned_tool(ctx, f"flake8 {version}{plugins}", requirements, said)


def _pinned_tool(ctx: GateContext, label: str, requirements: list[str], said: str) -> tuple[list[str], str]:
    """The tool from the project's requirements (label: e.g. 'ruff 0.4.1'), run by uv (fetched once into
    uv's cache); the action's own when uv cannot get it, and a note saying which ran."""
    tool = label.split(" ")[0]
    uv = tools.uv()
    if not uv:
        return [tools.path(tool)], f"; the project's {label} needs uv, so the action's ran"
    command = [uv, "tool", "run", "--quiet", "--from", requirements[0],
               *[word for extra in requirements[1:] for word in ("--with", extra)], tool]
    if ctx.log.run([*command, "--version"], cwd=ctx.root).returncode != 0:
        return [tools.path(tool)], f"; the project's {label} could not be fetched, so the action's ran"
    return command, f"; {said}"


def _ruff_severity(result: dict[str, Any]) -> int:
    return _flake8_severity(result) if result.get("level") != "error" else HIGH


def _flake8_severity(result: dict[str, Any]) -> int:
    code = result.get("ruleId", "")
    if code.startswith(FLAKE8_HIGH):
        return HIGH
    return MEDIUM if code.startswith(("F", "C9")) else LOW


def bandit(ctx: GateContext) -> Outcome:
    if skipped := _no_code(ctx):
        return skipped
    report = ctx.scratch / "bandit.sarif"
    configured = lintdefaults.bandit_configured(ctx.root)
    defaults, said = ([], []) if ctx.cfg.bandit_args else lintdefaults.bandit(
        ctx.root, ctx.targets, configured, ctx.scratch)
    argv = [tools.path("bandit"), *_bandit_config(ctx), *defaults, *ctx.cfg.bandit_args,
            "--quiet", "--format", "sarif", "--output", str(report), "--recursive", *ctx.targets]
    done = ctx.log.run(argv, cwd=ctx.root)
    outcome = _sarif_outcome(ctx, "bandit", done, sarif.read(report, ctx.log.read_report), _bandit_severity)
    outcome.message += "".join(f"; {line}" for line in said)
    return outcome


def _bandit_config(ctx: GateContext) -> list[str]:
    """bandit reads .bandit and pyproject.toml only when told to."""
    args = ["--ini", ".bandit"] if (ctx.root / ".bandit").is_file() else []
    if "bandit" in _pyproject_tools(ctx):
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
    hook = PYLINT_HOOK.format(code=PYLINT_CODE.replace("SITE", repr(str(ctx.env.site_packages))))
    report = ctx.scratch / "pylint.json"
    argv = [tools.path("pylint"), f"--init-hook={hook}", *ctx.cfg.pylint_args,
            f"--output-format=json2:{report}", "--persistent=n", *ctx.targets]
    done = ctx.log.run(argv, cwd=ctx.root)
    try:
        messages = json.loads(ctx.log.read_report(report))["messages"]
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
