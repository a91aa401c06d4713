"""A setup.py-only project: its dependency (six) comes from install_requires."""
import six


def text(value):
    return six.ensure_str(value)


def unused(value):
    if value:
        return "yes"
    return "no"
