from sc_pkg import branchy, joined


def test_joined(mocker):
    assert joined(b"a", "b") == "a-b"
    assert mocker is not None


def test_branchy():
    assert branchy(1) == "small"


def test_a_failure_the_counts_must_show():
    assert branchy(20) == "medium"
