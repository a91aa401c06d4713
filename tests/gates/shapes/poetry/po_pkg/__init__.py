"""A Poetry project."""
import six


def upper(value):
    return six.ensure_str(value).upper()


def untested(value):
    return value * 2
