import six


def greet(name):
    return six.ensure_str(f"hello {name}")


def shout(name):  # not tested
    return greet(name).upper()
