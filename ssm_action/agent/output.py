"""What the agent prints and logs: short lines on stdout, everything in the log, secrets never."""

from __future__ import annotations

import base64
import datetime
import json
import re
from typing import IO, Any, Dict, Iterable, List, Optional, Pattern, Set
from urllib.parse import quote, quote_plus

from ssm_action.contract.result import result_line

STDOUT_BUDGET = 16000  # SSM keeps 24,000 chars of stdout; the result line needs the rest
ERROR_LIMIT = 600  # characters of an error in the result line
MIN_SECRET = 6  # characters: a shorter value cannot be told from ordinary text
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")


class Redactor:
    """Replaces secret values in every form a program prints them, then strips URL credentials,
    in anything printed or logged.

    Values first: a secret URL's password stripped first would leave its host to show. Values
    shorter than MIN_SECRET are not searched for (they would blank out ordinary text): the app's
    secrets refuse them (App.read_secrets).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: List[str] = []
        self.pattern: Optional[Pattern[str]] = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in list(self.secrets) + list(secrets) if len(s) >= MIN_SECRET},
                              key=len, reverse=True)
        forms = sorted({f for s in self.secrets for f in printed_forms(s) if len(f) >= MIN_SECRET},
                       key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, forms)), re.I) if forms else None  # %2f is %2F

    def __call__(self, text: str) -> str:
        if self.pattern:
            text = self.pattern.sub("***", text)
        return _USERINFO.sub(r"\1***@", text)


def printed_forms(secret: str) -> Set[str]:
    """The value as is, JSON- and repr()-escaped (once and twice), URL-encoded and in base64 (at
    each of the 3 byte alignments, only the characters that depend on the value alone)."""
    forms = {secret}
    for _ in range(2):
        forms |= {json.dumps(f, ensure_ascii=a)[1:-1] for f in forms for a in (True, False)} | {
            repr(f)[1:-1] for f in forms}
    data = secret.encode("utf-8")
    forms |= {repr(data)[2:-1], quote(secret), quote(secret, safe=""), quote_plus(secret)}
    for k in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(encode(b"\0" * k + data).decode()[4 if k else 0:(len(data) + k) // 3 * 4])
    return forms


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_stamp(fraction: bool = False) -> str:
    """A UTC time for file names, which sort by it."""
    pattern = "%Y%m%dT%H%M%S%fZ" if fraction else "%Y%m%dT%H%M%SZ"
    return datetime.datetime.now(datetime.timezone.utc).strftime(pattern)


def tail(text: str, lines: int = 10, width: int = 300) -> List[str]:
    """The last non-empty lines of ``text``, each cut to ``width``."""
    kept = [line.rstrip()[:width] for line in text.splitlines() if line.strip()]
    return kept[-lines:]


def short(sha: Optional[str]) -> str:
    return sha[:12] if sha else "none"


def cap_list(items: List[str], limit: int) -> List[str]:
    """At most ``limit`` entries, the last one saying how many were left out."""
    if len(items) <= limit:
        return list(items)
    return list(items[:limit - 1]) + ["... and %d more (see the log file)" % (
        len(items) - limit + 1)]


def cap_error(error: Optional[str]) -> Optional[str]:
    return error[:ERROR_LIMIT] if error else None


class Reporter:
    """Short lines on stdout (within SSM's budget), everything in the log file."""

    def __init__(self, redact: Redactor) -> None:
        self.redact = redact
        self.log_path: Optional[str] = None
        self._log: Optional[IO[str]] = None
        self._printed = 0
        self.steps: List[Dict[str, Any]] = []
        self.warnings: List[str] = []  # for the runner's annotations (AgentResult.warnings)

    def open_log(self, path: str) -> None:
        self._log = open(path, "a", encoding="utf-8")
        self.log_path = path

    def close(self) -> None:
        log, self._log = self._log, None
        if log:
            try:
                log.close()
            except OSError:  # a full disk: the lines kept on stdout are what remains
                pass

    def log(self, text: str) -> None:
        self._write(self.redact(text))

    def _write(self, text: str) -> None:
        if self._log:
            try:
                for line in text.splitlines() or [""]:
                    self._log.write("%s %s\n" % (utc_now(), line))
                self._log.flush()
            except OSError as exc:  # a full disk must not stop the deploy, its rollback or its result line
                self.close()
                self.warn("the log file %s could not be written (%s): it ends there" % (self.log_path, exc))

    def say(self, text: str) -> None:
        text = self.redact(text)
        self._write(text)
        if self._printed + len(text) < STDOUT_BUDGET:
            print(text, flush=True)
        elif self._printed < STDOUT_BUDGET:
            print("... (more in the log file)", flush=True)
        self._printed += len(text) + 1

    def say_tail(self, text: str, lines: int, prefix: str = "    ") -> List[str]:
        """Print the last ``lines`` lines of ``text`` indented; return them."""
        kept = tail(text, lines)
        for line in kept:
            self.say(prefix + line)
        return kept

    def warn(self, text: str) -> None:
        """A problem that did not fail the deploy but that the user must hear of."""
        self.warnings.append(self.redact(text))

    def step_line(self, name: str, ok: bool, seconds: float, detail: str) -> None:
        self.steps.append({"name": name, "seconds": round(seconds, 3), "ok": ok})
        self.say("%-16s %-6s %6.2fs  %s" % (name, "ok" if ok else "FAILED", seconds,
                                            " ".join(detail.splitlines())))

    def scrub(self, value: Any) -> Any:
        """Redact every string in a JSON-able value (before escaping can hide a secret)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        return value

    def result(self, result: Dict[str, Any]) -> None:
        """The last line: ``AgentResult(...).to_dict()`` as the contract writes it, redacted."""
        if self.warnings:
            result = dict(result, warnings=result.get("warnings") or self.warnings)
        line = result_line(self.scrub(result))
        self.log(line)
        print(line, flush=True)
