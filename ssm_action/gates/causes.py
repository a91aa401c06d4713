"""The first real cause in a tool's output (the exception line, not the symptom that
follows), and which input fixes it."""

from __future__ import annotations

import re

# An exception line, as Python prints it or as pytest prefixes it with "E   ".
# Also a dotted exception of another name (django.core.exceptions.AppRegistryNotReady: ...).
EXCEPTION = re.compile(r"^(?:E\s+)?((?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Warning)(?::.*)?"
                       r"|(?:[a-z_]\w*\.)+[A-Z][A-Za-z]+: .+)$")
PYTEST_ERROR = re.compile(r"^(?:ERROR|INTERNALERROR>?|(?:[\w. -]+: )?error):?\s*(.+)$")
INSTALL_ERROR = re.compile(r"^\s*(?:×|ERROR:|error:)\s*(.+)$")
INSTALL_HINT = ("Fix: set the install input to what the project's tests need (e.g. `.[test]`, "
                "`--group tests`, `-r requirements/test.txt`), or requirements-file.")
NOISE = ("Traceback", "During handling")
HINTS = {
    "ModuleNotFoundError": "a module the code imports is not installed: add it to the project's "
                           "(test) dependencies, or set the install input (e.g. `.[test]`, `--group tests`)",
    "ImportError": "an import failed: check the project's dependencies and the install input",
    2: "the tests could not be collected: fix the error above, or the install input if a dependency is missing",
    3: "pytest or a plugin crashed: a plugin in the test requirements may not suit this pytest; "
       "set the install input to leave it out",
    4: "pytest was called wrongly: check pytest-args and the project's addopts",
    5: "no tests were found: check pytest-args and the project's testpaths",
}


def first_cause(*texts: str) -> str:
    """The first exception line in the texts (stdout, stderr, JUnit), else the first error line."""
    lines = [line.rstrip() for text in texts for line in text.splitlines() if line.strip()]
    for line in lines:
        match = EXCEPTION.match(line.strip())
        if match and not line.strip().startswith(NOISE):
            return match.group(1).strip()
    for line in lines:
        match = PYTEST_ERROR.match(line.strip())
        if match and match.group(1).strip("= ") and not match.group(1).startswith("usage:"):
            return match.group(1).strip("= ")
    return ""


def hint(cause: str, exit_code: int) -> str:
    name = cause.split(":", 1)[0].rsplit(".", 1)[-1]
    return HINTS.get(name) or HINTS.get(exit_code) or ""


def install_cause(output: str) -> str:
    """The installer's own words for what went wrong (uv's × line, pip's ERROR: line)."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        match = INSTALL_ERROR.match(line)
        if match:
            cause = match.group(1).strip().rstrip(":")
            reason = next((rest.strip(" ╰─▶│") for rest in lines[index + 1:] if rest.strip()), "")
            if reason.startswith("cause:") or match.group(1).endswith(":"):  # uv gives the reason next
                cause += ": " + reason.removeprefix("cause:").strip()
            return cause
    return first_cause(output) or (output.strip().splitlines() or ["no output"])[-1]
