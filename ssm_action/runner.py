"""Talking to the GitHub runner: outputs, job summary, annotations, masks, log groups.

Inside a workflow (GITHUB_ACTIONS=true) the runner's file and stdout commands are
written as @actions/core writes them (workflow_commands). In a terminal the same
calls print readable text, and outputs and the summary are printed by flush() at
the end. A runner file that cannot be written is reported once (an ::error naming
it) and makes the step fail: see file_errors().
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ssm_action import spec
from ssm_action import workflow_commands as wc

SUMMARY_LIMIT = 1024 * 1024  # GitHub refuses a step summary over 1 MiB
_CUT_NOTE = (
    "\n\n> **Summary cut**: it reached GitHub's 1 MiB limit and {left} bytes were left"
    " out. The job log has every line.\n"
)

_outputs: dict[str, str] = {}
_summary: list[str] = []
_secrets: set[str] = set()
_broken: set[str] = set()  # runner files that could not be written (reported once)


def in_github() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def reset() -> None:
    """Forget collected outputs, summary and secrets (one run per process, or a test)."""
    _outputs.clear()
    _summary.clear()
    _secrets.clear()
    _broken.clear()


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


def mask(value: str) -> None:
    """Hide a secret in the job log. In a terminal, printing it would reveal it."""
    if not value:
        return
    _secrets.add(value)
    if in_github():
        wc.issue("add-mask", value)


def masked() -> frozenset[str]:
    """The values masked so far (to keep them out of what the action starts)."""
    return frozenset(_secrets)


def log(message: str = "") -> None:
    print(redact(message), flush=True)


@contextmanager
def commands_stopped() -> Iterator[None]:
    """Text from elsewhere printed inside (the servers' output, the app's last lines, the project's
    tools) is never read as a workflow command: GitHub's runner reads `::name::` after leading
    spaces and `##[name]` anywhere in a line, act both at a line's start, and either would take
    a mask, an output or an annotation from it. Both stop reading commands after
    `::stop-commands::TOKEN` until `::TOKEN::`; the token is random, so the text cannot end the
    block early."""
    if not in_github():
        yield
        return
    token = secrets.token_hex(16)
    wc.issue("stop-commands", token)
    try:
        yield
    finally:
        print(f"::{token}::", flush=True)


def log_verbatim(text: str) -> None:
    """log() for text the action did not write; see commands_stopped()."""
    with commands_stopped():
        log(text)


def annotate(
    level: str,
    message: str,
    *,
    title: str | None = None,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
) -> None:
    """An error, warning or notice: an annotation on GitHub, a prefixed line here."""
    message = redact(message)
    if in_github():
        wc.issue(level, message, title=title, file=file, line=line, col=col)
        return
    where = f" ({file}:{line})" if file and line else f" ({file})" if file else ""
    head = f"{title}: " if title else ""
    print(f"{level.capitalize()}: {head}{message}{where}", flush=True)


def error(message: str, **where: object) -> None:
    annotate("error", message, **where)  # type: ignore[arg-type]


def warning(message: str, **where: object) -> None:
    annotate("warning", message, **where)  # type: ignore[arg-type]


def notice(message: str, **where: object) -> None:
    annotate("notice", message, **where)  # type: ignore[arg-type]


@contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible section of the job log."""
    if in_github():
        wc.issue("group", title)
    else:
        print(f"\n== {title}", flush=True)
    try:
        yield
    finally:
        if in_github():
            wc.issue("endgroup")


def set_output(name: str, value: object) -> None:
    """Set a step output now (so it survives a later crash); names come from action.yml."""
    if name not in spec.load().outputs:
        raise KeyError(f"{name!r} is not an output declared in action.yml")
    text = redact(value if isinstance(value, str) else str(value))
    _outputs[name] = text
    if os.environ.get("GITHUB_OUTPUT"):
        _append("GITHUB_OUTPUT", wc.key_value(name, text))


def save_state(name: str, value: str) -> None:
    """Pass a value to this action's post-entrypoint, which reads it as env STATE_<name>."""
    if os.environ.get("GITHUB_STATE"):
        _append("GITHUB_STATE", wc.key_value(name, value))


def debug(message: str) -> None:
    """A line shown only when the run has step debug logging on."""
    if in_github():
        wc.issue("debug", redact(message))


def _append(variable: str, text: str) -> None:
    """Write a runner file; a failure is one ::error per file, later writes to it are dropped."""
    if variable in _broken:
        return
    try:
        wc.append(variable, text)
    except wc.FileCommandError as exc:
        report_file_error(exc)


def report_file_error(exc: wc.FileCommandError) -> None:
    _broken.add(exc.variable)
    error(f"{exc} The runner creates this file for every step: check the job's container options "
          "and volumes, and the disk space of the runner.", title=f"{exc.variable} not writable")


def check_files() -> bool:
    """Before any work: can every runner file this action writes be written? Reports those that cannot."""
    for variable in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_STATE"):
        try:
            wc.writable(variable)
        except wc.FileCommandError as exc:
            report_file_error(exc)
    return not _broken


def file_errors() -> bool:
    """True once a runner file could not be written: the step must fail."""
    return bool(_broken)


def outputs() -> dict[str, str]:
    return dict(_outputs)


def add_summary(markdown: str) -> None:
    _summary.append(markdown)


def flush() -> None:
    """Write the job summary (capped at 1 MiB) or print summary and outputs here."""
    text = redact("\n".join(_summary))
    _summary.clear()
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        if text:
            _append_capped(path, text)
    else:
        _print_for_terminal(text)


def _append_capped(path: str, text: str) -> None:
    used = os.path.getsize(path) if os.path.exists(path) else 0
    data = text.encode("utf-8") + b"\n"
    room = SUMMARY_LIMIT - used
    if len(data) > room:
        keep = max(room - len(_CUT_NOTE) - 20, 0)  # room for the note and its number
        head = data[: data.rfind(b"\n", 0, keep) + 1]
        data = head + _CUT_NOTE.format(left=len(data) - len(head)).encode("utf-8")
        if len(data) > room:  # not even the note fits
            return
    _append("GITHUB_STEP_SUMMARY", data.decode("utf-8"))


def _print_for_terminal(text: str) -> None:
    out = sys.stdout
    if text:
        print("\n== Summary\n" + text, file=out)
    if _outputs:
        print("\n== Outputs", file=out)
        width = max(len(name) for name in _outputs)
        for name, value in _outputs.items():
            shown = value if "\n" not in value else value.replace("\n", "\n" + " " * (width + 3))
            print(f"{name.ljust(width)} = {shown}", file=out)
    out.flush()
