"""``app_dir`` as a link to the current release: a symlink on Linux, a junction on Windows.

A switch never leaves ``app_dir`` pointing at a half-made folder:

- Linux: a new symlink ``<app_dir>.switch`` is renamed over ``app_dir`` with
  ``os.replace``, one atomic step: a reader sees the old release or the new one.
- Windows: a junction cannot be renamed over another, so ``app_dir`` is renamed to
  ``<app_dir>.old``, the new junction ``<app_dir>.switch`` to ``app_dir``, and the old
  one removed. A switch killed between the two renames leaves no ``app_dir``;
  ``repair`` renames ``<app_dir>.old`` back (the old release again).

Only links are ever removed here (``os.rmdir`` on a junction, ``os.unlink`` on a
symlink), never what they point at.
"""

from __future__ import annotations

import contextlib
import os
from typing import Optional

SWITCH = ".switch"
OLD = ".old"


def link_target(path: str) -> Optional[str]:
    """The folder a symlink or junction points at; None for anything else (or nothing)."""
    try:
        target = os.readlink(path)  # junctions too, on Windows with Python 3.8+
    except (OSError, ValueError, NotImplementedError):
        return None
    if target.startswith("\\\\?\\"):
        target = target[4:]
    return os.path.normpath(os.path.join(os.path.dirname(path), target))


class Links:
    """Symlinks, replaced atomically (Linux and any POSIX server)."""

    atomic = True

    def make(self, target: str, link: str) -> None:
        os.symlink(target, link, target_is_directory=True)

    def remove(self, link: str) -> None:
        os.unlink(link)

    def switch(self, app_dir: str, target: str) -> None:
        """Point ``app_dir`` (a link, or nothing yet) at ``target``."""
        new = app_dir + SWITCH
        self.discard(new)
        self.make(target, new)
        if self.atomic or not os.path.lexists(app_dir):
            os.replace(new, app_dir)
            return
        old = app_dir + OLD
        self.discard(old)
        os.rename(app_dir, old)
        os.rename(new, app_dir)
        self.remove(old)

    def discard(self, link: str) -> None:
        """Remove ``link`` if it is a link (a leftover of a killed switch)."""
        if link_target(link) is not None or os.path.islink(link):
            self.remove(link)

    def repair(self, app_dir: str) -> str:
        """Undo a switch killed half way: ``app_dir`` is the old release again."""
        note = ""
        old = app_dir + OLD
        if not os.path.lexists(app_dir) and link_target(old) is not None:
            os.rename(old, app_dir)
            note = "an interrupted switch was undone: %s is %s again" % (app_dir, link_target(
                app_dir))
        self.discard(old)
        self.discard(app_dir + SWITCH)
        return note


class Junctions(Links):
    """Directory junctions (Windows): no administrator right or developer mode needed."""

    atomic = False

    def make(self, target: str, link: str) -> None:
        # CPython 3.5+ has it on Windows: no "cmd /c mklink", whose command line & or % in a path would change.
        import _winapi
        _winapi.CreateJunction(target, link)  # type: ignore[attr-defined]

    def remove(self, link: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(link)  # removes the junction itself, never the folder it points at


def local_links() -> Links:
    return Junctions() if os.name == "nt" else Links()
