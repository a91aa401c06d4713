from sl_pkg import name


def test_name():
    assert name(b"ada") == "Ada"
