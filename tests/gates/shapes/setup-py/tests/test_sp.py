from sp_pkg import text


def test_text():
    assert text(b"a") == "a"


def test_plugin_from_the_test_extra(mocker):
    assert mocker.Mock(return_value=2)() == 2
