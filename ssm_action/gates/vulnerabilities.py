"""Known vulnerabilities in the project's installed dependencies: pip-audit and safety.

pip-audit says "No known vulnerabilities found" and exits 0 even when it could
audit nothing (every package "could not be audited"), so its JSON report decides:
any package it could not audit makes the gate an error, never a pass.
"""

from __future__ import annotations

import json

from ssm_action.gates import isolation, tools
from ssm_action.gates.base import GateContext, conclude, last_line
from ssm_action.gates.model import ERROR, FAILED, HIGH, PASSED, SKIPPED, Finding, Outcome

SAFETY_VULNERABLE = 64  # safety's exit code when it found vulnerabilities


def pip_audit(ctx: GateContext) -> Outcome:
    # --skip-editable: the project itself (installed editable from its pyproject.toml) is
    # not a dependency, and on PyPI it would count as "could not be audited".
    argv = [tools.path("pip-audit"), "--path", str(ctx.env.site_packages), "--skip-editable",
            *ctx.cfg.pip_audit_args, "--format", "json", "--progress-spinner", "off", "--desc", "on"]
    done = ctx.log.run(argv, cwd=ctx.root, log_stdout=False)
    try:
        dependencies = [dep for dep in json.loads(done.stdout)["dependencies"] if not _editable(dep)]
    except (ValueError, KeyError, TypeError):
        return conclude(done, None, "pip-audit")
    found = [_vulnerability(dep, vuln) for dep in dependencies for vuln in dep.get("vulns", [])]
    unaudited = [dep["name"] for dep in dependencies if dep.get("skip_reason")]
    gaps = f"could not audit {len(unaudited)} of {len(dependencies)} packages ({', '.join(unaudited)})"
    if found:
        plural = "ies" if len(found) != 1 else "y"
        return Outcome(FAILED, f"{len(found)} known vulnerabilit{plural}" + (f"; {gaps}" if unaudited else ""), found)
    if unaudited:
        return Outcome(ERROR, f"{gaps}: is the vulnerability service reachable?")
    if done.returncode != 0:
        return conclude(done, [], "pip-audit")
    return Outcome(PASSED, f"no known vulnerabilities in {len(dependencies)} packages")


def _editable(dep: dict) -> bool:
    return dep.get("skip_reason") == "distribution marked as editable"


def _vulnerability(dep: dict, vuln: dict) -> Finding:
    ids = ", ".join([vuln["id"], *vuln.get("aliases", [])])
    fixed = ", ".join(vuln.get("fix_versions") or []) or "none yet"
    text = " ".join((vuln.get("description") or "").split())[:300]
    return Finding("", None, None, f"{dep['name']} {dep.get('version', '')}".strip(),
                   f"{ids} (fixed in: {fixed}): {text}", HIGH)


def safety(ctx: GateContext) -> Outcome:
    if not ctx.cfg.safety_api_key:
        return Outcome(SKIPPED, "no safety-api-key: Safety CLI 3 needs an account (pip-audit covers the same ground)")
    # In the environment, not on the command line; safety reads the project's files and runs none of
    # its code, so it runs as the action's user, where the project's code cannot read the key.
    env = dict(isolation.without_secrets(()), SAFETY_API_KEY=ctx.cfg.safety_api_key)
    argv = [tools.path("safety"), "--stage", "cicd", "--disable-optional-telemetry",
            "scan", "--target", ".", "--output", "json"]
    done = ctx.log.run(argv, cwd=ctx.root, env=env, holds_secret=True)
    if done.returncode == 0:
        return Outcome(PASSED, "no known vulnerabilities")
    if done.returncode == SAFETY_VULNERABLE:
        return Outcome(FAILED, "vulnerabilities found (the log has safety's report)")
    why = last_line(done.stderr) or last_line(done.stdout)
    return Outcome(ERROR, f"safety could not scan (exit code {done.returncode}): {why}")
