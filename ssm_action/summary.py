"""The job summary's Markdown: one escaping rule for every value, and the few shapes it is built of.

Every value that comes from an input, a server, AWS or GitHub goes through
``escape``: whitespace collapses to one space, HTML is escaped, and the characters
that a table or a code span would read as structure (``|``, backslash, backtick)
become character references. So a value can never split a table cell, open a
code span or inject HTML. Code is a Markdown code span when the value holds none
of those characters, else ``<code>`` (in which character references still work;
in a code span they would show as typed).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from ssm_action.errors import ActionError

STRUCTURE = {"|": "&#124;", "\\": "&#92;", "`": "&#96;"}
_STRUCTURE = re.compile("[" + re.escape("".join(STRUCTURE)) + "]")
_IN_CODE_SPAN = re.compile(r"[|`]")  # a code span shows HTML and backslashes as typed, but not these


def escape(value: object) -> str:
    """The one rule: any value, safe in a table cell, a heading or a line of text."""
    text = html.escape(" ".join(str(value).split()), quote=False)
    return _STRUCTURE.sub(lambda m: STRUCTURE[m.group(0)], text)


def code(value: object) -> str:
    """A value shown as code (ids, commits, paths)."""
    text = " ".join(str(value).split())
    if not text:
        return "-"
    return f"`{text}`" if not _IN_CODE_SPAN.search(text) else f"<code>{escape(text)}</code>"


def cell(value: object, *, as_code: bool = False) -> str:
    return code(value) if as_code else (escape(value) or "-")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of cells already made with cell()/code() (or trusted Markdown such as an icon or a link)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def headline(icon: str, text: str, level: int = 2) -> str:
    """A heading; ``text`` is trusted Markdown (escape values before putting them in)."""
    return f"{'#' * level} {icon + ' ' if icon else ''}{text}\n"


def link(text: str, url: str) -> str:
    return f"[{escape(text)}]({url.replace(' ', '%20').replace(')', '%29')})"


def fenced(text: str, language: str = "") -> str:
    """A code block whose fence no line of ``text`` can close."""
    runs = [len(run) for run in re.findall(r"`{3,}", text)]
    fence = "`" * max([3, *(n + 1 for n in runs)])
    return f"{fence}{language}\n{text}\n{fence}\n"


def details(summary: str, body: str) -> str:
    """A folded section; ``summary`` is trusted Markdown, ``body`` is Markdown."""
    return f"<details><summary>{summary}</summary>\n\n{body.rstrip()}\n\n</details>\n"


def fatal(exc: ActionError) -> str:
    """The section a fatal error leaves in the summary: what, why and how to fix, and where it is explained."""
    return (headline(":x:", escape(exc.title)) + "\n"
            + f"**What happened:** {escape(exc.title)}. The run stopped here.\n\n"
            + f"**Why, and how to fix it:** {escape(exc.message)}\n\n"
            + f"**More:** {link('troubleshooting: ' + exc.anchor.replace('-', ' '), exc.doc_url)}\n"
            + (f"\n{exc.details}" if exc.details else ""))
