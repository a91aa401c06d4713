from cr_pkg import double


def test_double():
    assert double("ab") == "abab"
