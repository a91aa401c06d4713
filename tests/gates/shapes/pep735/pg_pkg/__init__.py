"""A project whose test dependencies are a PEP 735 group."""
import six


def half(value):
    if not isinstance(value, six.integer_types):
        raise TypeError("an integer")
    return value // 2


def never_called():
    return None
