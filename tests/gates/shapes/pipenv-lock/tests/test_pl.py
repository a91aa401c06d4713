"""The app's tests."""

import six

from pl_app import greeting


def test_greeting():
    """six is the locked version."""
    assert greeting("you") == "hello you"
    assert six.__version__ == "1.16.0"


def test_failing_on_purpose():
    """One failure, so the counts say more than 'passed'."""
    assert greeting("x") == "bye x"
