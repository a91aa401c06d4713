import missing_test_helper  # noqa: F401  # not declared anywhere: the cause the gate must name
