from op_app import greet


def test_greet():
    assert greet("ada") == "hello, ada"


def test_greet_nobody():
    assert greet("") == "hello, stranger"
