import unittest


class NotMatchedByThePattern(unittest.TestCase):
    def test_never_run(self):
        self.fail("the project's pattern is *tests.py")
