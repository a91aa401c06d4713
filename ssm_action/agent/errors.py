"""What can go wrong in a deploy, as exceptions whose text the operator reads."""


class StepError(Exception):
    """A step failed; the message says what, and how to fix it when known."""


class Busy(StepError):
    """Another deploy holds the lock."""


class ParamError(Exception):
    """The parameter object is invalid."""
