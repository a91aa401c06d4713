"""A hatchling project with a testing extra."""
import six


def swap(pair):
    first, second = pair
    return six.ensure_str(second), six.ensure_str(first)


def uncovered(a, b):
    total = a + b
    return total
