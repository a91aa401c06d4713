from ul_pkg import SIX_VERSION


def test_the_locked_version_is_installed():
    assert SIX_VERSION == "1.15.0"
