"""The two ways a run stops early: a fatal error that says how to fix it, or a cancel."""

from __future__ import annotations

from ssm_action import DOCS_URL


class ActionError(Exception):
    """A fatal, expected problem: reported as one ::error with a fix and a link."""

    def __init__(self, title: str, message: str, doc: str = "troubleshooting.md"):
        super().__init__(message)
        self.title = title
        self.message = message
        self.doc_url = f"{DOCS_URL}/{doc}"


class Cancelled(BaseException):
    """The workflow was cancelled (SIGTERM). A BaseException so that only code
    that must clean up (cancel a command, post a final status) catches it."""
