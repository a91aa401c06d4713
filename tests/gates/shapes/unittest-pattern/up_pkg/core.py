def add(a, b):
    return a + b


def divide(a, b):
    if b == 0:
        raise ZeroDivisionError("b is zero")
    return a / b


def unused(x):  # not tested
    y = x * 2
    return y
