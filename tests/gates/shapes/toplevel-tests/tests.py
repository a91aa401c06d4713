from app import title
from helpers import slug


def test_slug():
    assert slug("A B") == "a-b"


def test_title():
    assert title("hello world") == "Hello World"


def test_more():
    for word in ("a", "b", "c", "d", "e", "f"):
        assert slug(word) == word
