from po_pkg import upper


def test_upper(mocker):
    spy = mocker.Mock(side_effect=upper)
    assert spy(b"a") == "A"
