"""The app's tests."""

import six

from pt_app import shout


def test_shout():
    """six is the compiled pin."""
    assert shout("hi") == "HI"
    assert six.__version__ == "1.16.0"


def test_more():
    """A second test."""
    assert shout("a") == "A"
