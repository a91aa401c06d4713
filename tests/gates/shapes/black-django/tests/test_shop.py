"""Tests: assert is how pytest checks (bandit's B101 is off in tests by default)."""

from shop import price_with_tax


def test_price():
    """Tax added."""
    assert price_with_tax(10) == 12.0
