"""A pip-tools app: six comes from requirements/base.txt, compiled from base.in."""

import six


def shout(text):
    """Upper case, through six (installed only when base.txt is)."""
    return six.ensure_str(text).upper()


def unused():
    """Left untested, so the coverage is not 100%."""
    return six.PY2
