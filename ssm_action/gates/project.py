"""Checks of the project as its users would run it: smoke imports, required
environment variables, and consistent installed dependencies (pip check)."""

from __future__ import annotations

import os
import re

from ssm_action.gates import missing, tools
from ssm_action.gates.base import GateContext, last_line, why
from ssm_action.gates.model import ERROR, FAILED, HIGH, MEDIUM, PASSED, SKIPPED, Finding, Outcome
from ssm_action.gates.projectenv import EnvError

IMPORT = "import importlib, sys; importlib.import_module(sys.argv[1])"
UV_PROBLEM = re.compile(r"^The package `([^`]+)` (.+)$")


def smoke(ctx: GateContext) -> Outcome:
    modules = ctx.cfg.smoke_imports
    if not modules:
        return Outcome(SKIPPED, "no smoke-imports given")
    env = ctx.env
    found = []
    for module in modules:  # one fresh interpreter each: one module's side effects cannot hide another's
        done = ctx.log.run([str(env.python), "-c", IMPORT, module], cwd=ctx.root, env=env.variables())
        if done.returncode != 0:
            found.append(Finding("", None, None, module, why(done),
                                 HIGH))
    if found:
        return Outcome(FAILED, f"{len(found)} of {len(modules)} module(s) failed to import", found)
    return Outcome(PASSED, f"{len(modules)} module(s) import cleanly")


def required_env(ctx: GateContext) -> Outcome:
    names = ctx.cfg.required_env
    if not names:
        return Outcome(SKIPPED, "no required-env given")
    missing = [name for name in names if not os.environ.get(name, "").strip()]
    ctx.log.note("\n".join(f"{name}: {'missing or empty' if name in missing else 'set'}" for name in names))
    if missing:
        found = [Finding("", None, None, name, "is not set or is empty", MEDIUM) for name in missing]
        return Outcome(FAILED, f"not set or empty: {', '.join(missing)}", found)
    return Outcome(PASSED, f"{len(names)} variable(s) set")


def deps(ctx: GateContext) -> Outcome:
    try:
        env = ctx.env
    except EnvError as exc:
        if exc.conflict:  # the resolver refused: the requirements cannot be installed together
            finding = Finding("", None, None, "requirements", str(exc), HIGH)
            return Outcome(FAILED, "the requirements conflict", [finding])
        raise
    uv = tools.uv()
    if env.installer == "uv" and uv:
        done = ctx.log.run([uv, "pip", "check", "--python", str(env.python)], cwd=ctx.root)
        lines = done.stdout.splitlines() + done.stderr.splitlines()
        problems = [match.groups() for match in map(UV_PROBLEM.match, lines) if match]
    else:
        done = ctx.log.run([str(env.python), "-m", "pip", "check"], cwd=ctx.root, env=env.variables())
        problems = [(line.split()[0], line.split(" ", 2)[-1]) for line in done.stdout.splitlines()
                    if line.strip() and not line.startswith("No broken")]
    found = [Finding("", None, None, package, problem, HIGH) for package, problem in problems]
    absent = _absent(ctx)
    if absent:
        return Outcome(FAILED, f"{len(absent)} declared requirement(s) not installed"
                       + (f", {len(found)} broken" if found else ""), absent + found)
    if done.returncode == 0:
        return Outcome(PASSED, "no broken requirements")
    if found:
        return Outcome(FAILED, f"{len(found)} broken requirement(s)", found)
    return Outcome(ERROR, f"pip check failed (exit code {done.returncode}): {last_line(done.stderr)}")


def _absent(ctx: GateContext) -> list[Finding]:
    """What the project declares and the environment lacks (an install input that leaves it out)."""
    env = ctx.env
    python = tuple(int(n) for n in env.site_packages.parent.name.removeprefix("python").split(".")[:2])
    return [Finding("", None, None, name, f"declared by {source} but not installed in the project environment: "
                    "leave install empty to install what the project declares, or add it to install", HIGH)
            for name, source in missing.missing(env.site_packages, env.declared, python)]
