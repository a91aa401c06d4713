"""Coverage source set in .coveragerc."""
from cr_pkg.core import double

__all__ = ["double"]
