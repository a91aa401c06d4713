"""A black-formatted app (88 columns), with no flake8 configuration."""


def price_with_tax(amount: float, rate: float = 0.2, rounding_digits: int = 2) -> float:
    """A line of 87 columns above: black's length, over flake8's 79."""
    assert rate >= 0  # an assert in the app's code: bandit's B101 still applies here
    values = [amount, amount * rate]
    return round(sum(values[0 : len(values)]), rounding_digits)  # E203, as black writes
