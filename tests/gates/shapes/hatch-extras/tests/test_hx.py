from hx_pkg import swap


def test_swap(mocker):
    assert swap(("a", "b")) == ("b", "a")
    assert mocker
