"""What a test run reports, whatever ran it: counts in pytest's words (from pytest's last
line, or from unittest's and Django's "Ran N tests" and "FAILED (...)"), and unittest's
failures as findings with their file, line and first cause."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ssm_action.gates import causes
from ssm_action.gates.model import HIGH, Finding

# pytest's last line: "=== 2 passed, 1 failed in 0.12s ===", bare under -q
PYTEST_SUMMARY = re.compile(r"^(?:=+ )?((?:\d+ \w+, )*(?:\d+ \w+|no tests ran) in [\d.]+s(?: \([\d:.]+\))?)(?: =+)?$")
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
RAN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)
UNITTEST_STATUS = re.compile(r"^(OK|FAILED|NO TESTS RAN)(?: \((.*)\))?\s*$", re.MULTILINE)
UNITTEST_KINDS = {"failures": "failed", "errors": "errors", "skipped": "skipped", "expected failures": "xfailed",
                  "unexpected successes": "xpassed"}
BLOCK = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\S+) \(([^)]*)\)[^\n]*\n-{20,}\n(.*?)"
                   r"(?=^={20,}$|^-{20,}\nRan )", re.MULTILINE | re.DOTALL)
FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)', re.MULTILINE)
ORDER = ("passed", "failed", "skipped", "errors", "xfailed", "xpassed")


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    xfailed: int = 0
    xpassed: int = 0

    @property
    def ran(self) -> int:
        """Tests that ran to a verdict (an error may be a module that could not be collected)."""
        return self.passed + self.failed + self.xfailed + self.xpassed

    def words(self) -> str:
        """`3 passed, 1 failed, 1 error`, as pytest says it (kinds with no test left out)."""
        found = [f"{n} {'error' if kind == 'errors' and n == 1 else kind}" for kind, n in
                 ((kind, getattr(self, kind)) for kind in ORDER) if n]
        return ", ".join(found) or "no tests ran"


def from_pytest(output: str) -> Counts | None:
    """pytest's final line (=== 2 passed, 1 failed in 0.1s ===), else None."""
    lines = [PYTEST_SUMMARY.match(line.strip()) for line in output.splitlines()]
    last = [match.group(1) for match in lines if match]
    if not last:
        return None
    found = {("errors" if kind.startswith("error") else kind): int(n) for n, kind in PYTEST_COUNT.findall(last[-1])}
    return Counts(**found)


def from_unittest(output: str) -> Counts | None:
    """unittest's (and Django's) `Ran N tests` and `OK (skipped=1)` / `FAILED (failures=1)`, else None."""
    ran = RAN.findall(output)
    status = UNITTEST_STATUS.findall(output)
    if not ran:
        return None
    found = {"passed": int(ran[-1])}
    details = status[-1][1] if status else ""
    for part in filter(None, (item.strip() for item in details.split(","))):
        name, _, value = part.partition("=")
        kind = UNITTEST_KINDS.get(name.strip())
        if kind and value.strip().isdigit():
            found[kind] = int(value)
            found["passed"] -= int(value)
    return Counts(**found)


def unittest_failures(output: str, root: Path) -> list[Finding]:
    """Each FAIL / ERROR block: the test, the project's last frame, the first cause."""
    found = []
    for kind, name, where, body in BLOCK.findall(output):
        frames = [(path, int(line)) for path, line in FRAME.findall(body) if _in_project(path, root)]
        path, line = frames[-1] if frames else ("", None)
        cause = causes.first_cause(body) or (body.strip().splitlines() or [kind])[-1]
        test = where if "." in where and name in where else f"{where}.{name}"
        found.append(Finding(path=_relative(path, root), line=line, col=None, code=test,
                             message=f"{kind}: {cause}" if kind != "FAIL" else cause, severity=HIGH))
    return found


def _in_project(path: str, root: Path) -> bool:
    resolved = os.path.abspath(os.path.join(root, path))
    return resolved.startswith(str(root)) and "site-packages" not in resolved and "/." not in resolved[len(str(root)):]


def _relative(path: str, root: Path) -> str:
    return os.path.relpath(os.path.join(root, path), root) if path else ""
