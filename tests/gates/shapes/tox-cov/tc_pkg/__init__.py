"""Coverage configured in tox.ini's addopts: only tc_pkg counts, the tests do not."""


def sign(n):
    if n > 0:
        return 1
    if n < 0:
        return -1
    return 0


def unused_one():
    return 1


def unused_two():
    return 2
