"""A Pipenv app: its only dependency comes from Pipfile.lock."""

import six


def greeting(name):
    """A text that needs six (installed only when the lock is)."""
    return six.ensure_text("hello " + name)


def unused():
    """Left untested, so the coverage is not 100%."""
    return six.PY3
