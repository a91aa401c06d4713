"""uv.lock pins six 1.15.0 although 1.17.0 is out: the gates must test what the lock says."""
import six

SIX_VERSION = six.__version__


def uncovered():
    return SIX_VERSION
