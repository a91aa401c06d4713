"""The app's last words: the end of what it wrote, redacted, and the line that says why it died.

For "the app exited with code 1: ModuleNotFoundError: No module named 'waitress'"
rather than "verify failed". The text comes from the app log (from where this
start's output begins) or, for a systemd unit, from the journal.
"""

from __future__ import annotations

import contextlib
import re
from typing import List, Optional

from ssm_action.agent.output import Redactor, tail

READ_LIMIT = 64 * 1024  # bytes read from the end of the log: the last words, not the history
# "ModuleNotFoundError: ...", "OSError: [Errno 98] ...", "KeyboardInterrupt", "SystemExit: 3"
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning))(:.*)?$")


def read_since(path: str, offset: int = 0) -> str:
    """The log's text from ``offset`` (at most the last READ_LIMIT bytes); "" when unreadable."""
    with contextlib.suppress(OSError):
        with open(path, "rb") as handle:
            end = handle.seek(0, 2)
            handle.seek(max(offset, end - READ_LIMIT, 0))
            return handle.read().decode("utf-8", "replace")
    return ""


def last_lines(text: str, redact: Redactor, lines: int = 8) -> List[str]:
    """The last ``lines`` non-empty lines, every secret value in any printed form (and URL
    password) blanked."""
    return tail(redact(text), lines)  # redacted before the split: a value may span lines


def cause(lines: List[str]) -> Optional[str]:
    """The line that says why: the last exception line, else the last line."""
    for line in reversed(lines):
        if _EXCEPTION.match(line.strip()):
            return line.strip()
    return lines[-1].strip() if lines else None


def exit_message(code: Optional[int], lines: List[str]) -> str:
    """"the app exited with code 1: ModuleNotFoundError: ..." (lines already redacted)."""
    why = cause(lines)
    return "the app exited%s%s" % (" with code %d" % code if code is not None else "",
                                   ": " + why if why else " without a word")
