"""Where the gates' results go: one log group per gate (printed as it ends), heartbeats,
annotations (capped by GitHub, most severe first), the job summary (blocking gates'
details first, capped per gate and in size), every finding in a JSON file, the outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ssm_action import runner
from ssm_action import summary as md
from ssm_action.config import GatesConfig as Config  # the gates see only their section
from ssm_action.gates.model import ERROR, FAILED, PASSED, SKIPPED, Finding, GateResult
from ssm_action.gates.projectenv import EnvError, ProjectEnv
from ssm_action.gates import sarif
from ssm_action.gates.schedule import FINDINGS_FILE, SARIF_FOLDER, EnvReport, GatesRun, Running, repo_root

ICONS = {PASSED: "✅", FAILED: "❌", ERROR: "💥", SKIPPED: "⏭️"}
ANNOTATIONS_PER_LEVEL = 10  # GitHub shows about 10 of each kind per step; the summary has the rest
LOG_TAIL_LINES = 40
ROWS_PER_GATE = 200  # findings shown per gate in the summary; the findings file has them all
FINDINGS_PATH = f"{SARIF_FOLDER}/{FINDINGS_FILE}"
SUMMARY_BUDGET = 800 * 1024  # bytes for the gates' summary: under GitHub's 1 MiB, room for the deploy's


def show_env(report: EnvReport) -> None:
    project = report.project
    if isinstance(project, EnvError):
        title = f"{ICONS[ERROR]} project environment: could not be built ({report.seconds:.1f} s)"
    else:
        title = f"{ICONS[PASSED]} project environment: {_how(project)} ({report.seconds:.1f} s)"
    with runner.group(title):
        if not isinstance(project, EnvError):
            runner.log("Installed: " + "; ".join(project.reasons or ("only pytest and pytest-cov",)))
        runner.log_verbatim(report.log)  # the installers' output, setup.py's included


def show_heartbeat(running: list[Running]) -> None:
    """Between the groups: which gates are still at work, and how far the tests are."""
    runner.log("⏳ still running: " + ", ".join(
        f"{r.name} {r.seconds:.0f} s" + (f" ({r.progress})" if r.progress else "") for r in running))


def show_result(result: GateResult) -> None:
    """The gate's log group; its title is the result line."""
    with runner.group(result_line(result)), runner.commands_stopped():  # the tools print the project's text
        runner.log(result.log)
        for finding in result.outcome.findings:
            runner.log(_finding_line(finding))


def result_line(result: GateResult) -> str:
    role = "blocking" if result.blocking else "non-blocking"
    return (f"{ICONS[result.state]} {result.name}: {result.state} ({role}, {result.seconds:.1f} s)"
            f" - {result.outcome.message}")


def _finding_line(f: Finding) -> str:
    where = ":".join(str(part) for part in (f.path, f.line, f.col) if part)
    return f"{where + ': ' if where else ''}{f.code} {f.message}".strip()


def publish(cfg: Config, run: GatesRun) -> bool:
    """Annotations, summary and outputs; True when every blocking gate passed."""
    ok = not any(result.fails_step for result in run.results)
    _write_findings(cfg, run)
    _annotate(run)
    runner.add_summary(summary(cfg, run))
    _set_outputs(run, ok)
    return ok


def repo_path(run: GatesRun, path: str) -> str:
    """A finding's path, relative to the repository root as GitHub wants it."""
    return sarif.in_repo(run.repo_prefix, path) if path else ""


def _annotate(run: GatesRun) -> None:
    emitted = {"error": 0, "warning": 0}
    for level, title, message, finding in _annotations(run):
        if emitted[level] >= ANNOTATIONS_PER_LEVEL:
            continue
        emitted[level] += 1
        if finding and finding.path:
            runner.annotate(level, message, title=title, file=repo_path(run, finding.path), line=finding.line,
                            col=finding.col)
        else:
            runner.annotate(level, message, title=title)


def _annotations(run: GatesRun) -> Iterator[tuple[str, str, str, Finding | None]]:
    """Gates that did not pass, then their findings, most severe first; errors before warnings."""
    items: list[tuple[bool, int, int, str, int, str, str, str, Finding | None]] = []
    for index, result in enumerate(run.results):
        if result.state not in (FAILED, ERROR):
            continue
        level = "error" if result.blocking else "warning"
        items.append((level != "error", -4, index, "", 0, level, f"{result.name} {result.state}",
                      result.outcome.message, None))
        for f in result.outcome.findings:
            items.append((level != "error", -f.severity, index, f.path, f.line or 0, level,
                          f"{result.name}: {f.code}", f.message, f))
    for item in sorted(items, key=lambda item: item[:5]):
        yield item[5:]


def summary(cfg: Config, run: GatesRun) -> str:
    failing = [r.name for r in run.results if r.fails_step]
    head = "✅ Quality gates passed" if not failing else f"❌ Quality gates failed: {', '.join(failing)}"
    rows = [[ICONS[r.state], md.escape(r.name), r.state, "yes" if r.blocking else "no", f"{r.seconds:.1f} s",
             str(len(r.outcome.findings)), md.escape(r.outcome.message)] for r in run.results]
    lines = [md.headline("", head), md.table(("", "gate", "state", "blocking", "time", "findings", "result"), rows)]
    coverage = _coverage(run)
    if coverage is not None:
        threshold = f" (threshold {cfg.coverage_threshold:g}%)" if cfg.coverage_threshold else ""
        lines += [f"**Coverage: {coverage:.1f}%**{threshold}", ""]
    if run.env:
        lines += [_env_line(run.env), ""]
    used = len("\n".join(lines).encode("utf-8"))
    for r in sorted(run.results, key=_details_order):
        block = "\n".join(_details(run, r))
        if used + len(block.encode("utf-8")) > SUMMARY_BUDGET:
            block = (f"{ICONS[r.state]} {r.name}: {len(r.outcome.findings)} findings left out of this summary "
                     f"(size limit); the findings file `{FINDINGS_PATH}` has them all.\n")
        used += len(block.encode("utf-8")) + 1
        lines.append(block)
    return "\n".join(lines)


def _details_order(r: GateResult) -> int:
    """Blocking gates that fail the step first, then other failures, then the rest."""
    return 0 if r.fails_step else 1 if r.state in (FAILED, ERROR) else 2


def _coverage(run: GatesRun) -> float | None:
    return next((r.outcome.coverage for r in run.results if r.outcome.coverage is not None), None)


def _how(project: ProjectEnv) -> str:
    return "reused from the cache" if project.reused else f"built with {project.installer}"


def _env_line(env: EnvReport) -> str:
    project = env.project
    if isinstance(project, EnvError):
        return f"Project environment: could not be built.\n\n{md.fenced(str(project))}"
    installed = "".join(f"\n- {md.escape(reason)}" for reason in project.reasons) or "\n- only pytest and pytest-cov"
    return (f"Project environment: {_how(project)} in {env.seconds:.1f} s (cache key {md.code(project.key)}). "
            f"Installed, and why:{installed}")


def _details(run: GatesRun, r: GateResult) -> list[str]:
    """Every finding of the gate, and the end of its log when it could not run."""
    count = len(r.outcome.findings)
    if not count and r.state != ERROR:
        return []
    body = ""
    if count:
        ordered = sorted(r.outcome.findings, key=lambda f: (-f.severity, f.path, f.line or 0))
        body = md.table(("file", "line", "rule", "message"), [
            [md.escape(repo_path(run, f.path)), str(f.line or ""), md.escape(f.code), md.escape(f.message)]
            for f in ordered[:ROWS_PER_GATE]])
        if count > ROWS_PER_GATE:
            body += (f"\n\n... and {count - ROWS_PER_GATE} more (least severe): every finding is in "
                     f"{md.code(FINDINGS_PATH)} (output findings-file)"
                     + (" and the SARIF file" if r.outcome.sarif else "") + ".")
    if r.state == ERROR and r.log:
        body += "\n" + md.fenced("\n".join(r.log.splitlines()[-LOG_TAIL_LINES:]))
    return [md.details(f"{ICONS[r.state]} {md.escape(r.name)}: {md.escape(r.outcome.message)}", body)]


def _write_findings(cfg: Config, run: GatesRun) -> None:
    """Every finding of every gate, nothing capped: the summary's complement."""
    doc: dict[str, object] = {"gates": [{
        "name": r.name, "state": r.state, "blocking": r.blocking, "message": r.outcome.message,
        "coverage": r.outcome.coverage,
        "findings": [{"path": repo_path(run, f.path), "line": f.line, "col": f.col, "rule": f.code,
                      "message": f.message, "severity": f.severity} for f in r.outcome.findings],
    } for r in run.results]}
    if run.env and not isinstance(run.env.project, EnvError):
        doc["installed"] = list(run.env.project.reasons)
    target = repo_root(cfg) / FINDINGS_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(runner.redact(json.dumps(doc, indent=1)), encoding="utf-8")
    runner.set_output("findings-file", FINDINGS_PATH)


def _set_outputs(run: GatesRun, ok: bool) -> None:
    runner.set_output("gates-result", "passed" if ok else "failed")
    runner.set_output("gates-json", json.dumps([{
        "name": r.name, "state": r.state, "blocking": r.blocking, "seconds": round(r.seconds, 2),
        "findings": len(r.outcome.findings), "message": r.outcome.message,
    } for r in run.results]))
    coverage = _coverage(run)
    if coverage is not None:
        runner.set_output("coverage", f"{coverage:.1f}")
    if any(r.outcome.sarif for r in run.results):
        runner.set_output("sarif-file", SARIF_FOLDER)
    if run.env and not isinstance(run.env.project, EnvError):
        runner.set_output("cache-key", run.env.project.key)
