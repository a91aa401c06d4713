"""Code that the pinned linters judge."""
import os


def collect(item, into=[]):
    """A mutable default (flake8-bugbear's B006)."""
    into.append(item)
    return into
