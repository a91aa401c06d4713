"""A helper for the tests, not a test (unittest's pattern leaves it out; pytest's would not)."""


def testing_server():
    return "http://127.0.0.1:0"
