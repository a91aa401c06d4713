"""A Pipenv app whose lock pins an old pluggy (1.0.0) and no pytest-cov: the runner the
action adds must suit that pluggy (pytest-cov 6.2.0 needs pluggy >= 1.2 without saying so)."""


def greet(name):
    if not name:
        return "hello, stranger"
    return f"hello, {name}"


def shout(text):
    return text.upper()
