"""A src/ layout: importable only once installed."""
import six


def name(value):
    return six.ensure_str(value).title()


def unreached(value):
    return value
