import six


def double(value):
    return six.ensure_str(value) * 2


def spare(value):
    if value:
        return value
    return None
