"""A setup.cfg project."""
import six


def joined(*parts):
    return "-".join(six.ensure_str(p) for p in parts)


def branchy(n):
    if n > 10:
        return "big"
    if n > 5:
        return "medium"
    return "small"
