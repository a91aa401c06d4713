from rf_pkg import describe


def test_describe():
    assert describe([1, 2]) == "2 values, the smallest 1, the largest 2, total 3"
