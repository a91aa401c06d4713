import pytest

from pg_pkg import half


def test_half():
    assert half(4) == 2


def test_half_refuses_text():
    with pytest.raises(TypeError):
        half("x")


def test_needs_the_plugin_from_the_group(mocker):
    assert mocker.sentinel.value is mocker.sentinel.value
