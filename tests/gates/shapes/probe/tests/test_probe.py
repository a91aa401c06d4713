import probe_mod


def test_records_what_the_tests_see():
    probe_mod.record("tests")
