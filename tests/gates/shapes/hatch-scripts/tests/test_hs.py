from hs_pkg import kind, load


def test_load():
    assert load("a: 1") == {"a": 1}


def test_kinds():
    assert kind("x") == "text"
    assert kind({}) == "mapping"
