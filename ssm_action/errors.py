"""The two ways a run stops early: a fatal error that says how to fix it, or a cancel."""

from __future__ import annotations

from ssm_action import DOCS_URL

TROUBLESHOOTING = "troubleshooting.md"


class ActionError(Exception):
    """A fatal, expected problem: one ::error and a summary section, with a fix and a link.

    ``anchor`` is the section of docs/troubleshooting.md that explains it (a test checks each exists);
    ``details``, Markdown for the summary only (e.g. a table of the targets and their problems).
    """

    def __init__(self, title: str, message: str, anchor: str, details: str = ""):
        super().__init__(message)
        self.title = title
        self.message = message
        self.anchor = anchor
        self.details = details
        self.doc_url = f"{DOCS_URL}/{TROUBLESHOOTING}#{anchor}"


class Cancelled(BaseException):
    """The workflow was cancelled (SIGTERM). A BaseException so that only code
    that must clean up (cancel a command, post a final status) catches it."""
