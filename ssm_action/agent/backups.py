"""Backups: zip files of the work tree, enough to bring the app back without git.

``<backup_dir>/<app>-<UTC time>-<deploy_id>.zip`` holds the work tree WITHOUT
``.git``, virtual environments and caches, plus a ``DEPLOY_BACKUP.json``
manifest naming the commit. Files alone bring the app back even when the
clone's history is lost (unzip, create the venv, start it). Symlinks are kept
as links (``unzip`` makes them links again), never followed; a backup is
readable by its owner only (mode 0600). A restore writes only inside the app
folder, and puts back every member it can read: a damaged one is named, not fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import time
import zipfile
import zlib
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ssm_action.agent.files import atomic_file, inside, keep_newest, safe_relative, write_atomic
from ssm_action.agent.layout import CACHE_DIRS, Layout
from ssm_action.agent.output import utc_now, utc_stamp

MANIFEST = "DEPLOY_BACKUP.json"


def make_backup(app_dir: str, dest: str, manifest: Dict[str, Any], skip: Iterable[str]) -> Tuple[str, int]:
    """Zip the work tree without .git, venvs, caches and ``skip`` folders, readable by its owner only;
    return its path and the number of symlinks kept as links (never followed: a link's target may be
    any file of the server)."""
    skipped = {os.path.normcase(os.path.normpath(path)) for path in skip}
    links = 0
    with atomic_file(dest, dest + ".partial", 0o600) as handle, zipfile.ZipFile(
            handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1, strict_timestamps=False) as archive:
        for folder, dirs, files in os.walk(app_dir):
            linked = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
            dirs[:] = sorted(
                d for d in dirs
                if d != ".git" and d not in CACHE_DIRS and d not in linked
                and os.path.normcase(os.path.join(folder, d)) not in skipped
                and not os.path.isfile(os.path.join(folder, d, "pyvenv.cfg")))
            for name in sorted(files + linked):
                path = os.path.join(folder, name)
                if not name.endswith((".pyc", ".pyo")):
                    with contextlib.suppress(FileNotFoundError):  # the running app removed it meanwhile
                        links += _add(archive, path, os.path.relpath(path, app_dir).replace(os.sep, "/"))
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
    return dest, links


def _add(archive: zipfile.ZipFile, path: str, name: str) -> int:
    """One file as it is, a symlink as a link (1); what is neither (a socket, a FIFO) is left out."""
    info = os.lstat(path)
    when = min(max(info.st_mtime, 315619200), 4102444800)  # the years a zip can say: 1980 to 2099
    entry = zipfile.ZipInfo(name, time.localtime(when)[:6])
    entry.external_attr = (info.st_mode & 0xFFFF) << 16
    if stat.S_ISLNK(info.st_mode):
        entry.create_system = 3  # unix: the mode says link
        archive.writestr(entry, os.readlink(path))
        return 1
    if not stat.S_ISREG(info.st_mode):
        return 0
    entry.compress_type = zipfile.ZIP_DEFLATED
    # O_NOFOLLOW: a file swapped for a link since the walk is refused, not followed
    with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)),
                   "rb") as source, archive.open(entry, "w", force_zip64=True) as out:
        shutil.copyfileobj(source, out, 1 << 20)
    return 0


def restore_from_backup(backup: str, app_dir: str, paths: Optional[List[str]] = None) -> List[str]:
    """Put files back from a backup: ``paths`` only (deleting those it lacks) or all; return what it
    could not put back, each with why (a damaged member, a path outside ``app_dir``, the whole backup)."""
    failed: List[str] = []
    try:
        archive = zipfile.ZipFile(backup)
    except (OSError, zipfile.BadZipFile) as exc:
        return ["%s (%s: %s)" % (rel, backup, exc) for rel in paths or [backup]]
    with archive:
        members = {e.filename: e for e in archive.infolist() if e.filename != MANIFEST and safe_relative(e.filename)}
        for rel in sorted(members if paths is None else set(paths)):
            target = os.path.join(app_dir, rel)
            try:
                if not safe_relative(rel) or not inside(app_dir, os.path.dirname(target)):
                    raise ValueError("outside %s" % app_dir)
                _restore(archive, members.get(rel), target)
            except (OSError, ValueError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
                failed.append("%s (%s)" % (rel, exc))
    return failed


def _restore(archive: zipfile.ZipFile, entry: Optional[zipfile.ZipInfo], target: str) -> None:
    if entry is None:  # it did not exist in the backed-up version
        if os.path.isfile(target) or os.path.islink(target):
            os.remove(target)
        return
    data = archive.read(entry)  # whole before the old file goes: a damaged member changes nothing
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not (entry.create_system == 3 and stat.S_ISLNK(entry.external_attr >> 16)):
        write_atomic(target, data)  # a rename: a link in its place is replaced, never written through
        return
    if os.path.lexists(target):
        os.remove(target)
    os.symlink(data.decode("utf-8", "surrogateescape"), target)


class Backups:
    """One app's backups in its backup folder, the newest ``retention`` kept."""

    def __init__(self, where: Layout, retention: int) -> None:
        self.where = where
        self.retention = retention
        self.name = os.path.basename(where.app_dir)

    def create(self, deploy_id: str, head: Optional[str], previous_sha: Optional[str]) -> Tuple[str, int]:
        """A new backup: its path and the symlinks kept as links. The agent's own folder (``<app_dir>-backups``)
        is its owner's only; a given one keeps its mode (it may be shared); the backups are made 0600."""
        folder = self.where.backup_dir
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if folder == self.where.app_dir + "-backups" and os.name != "nt":  # the agent's own (no backup_dir given)
            os.chmod(folder, 0o700)
        path = os.path.join(folder, "%s-%s-%s.zip" % (self.name, utc_stamp(), deploy_id))
        for leftover in os.listdir(folder):  # from a killed backup
            if leftover.endswith(".partial"):
                os.remove(os.path.join(folder, leftover))
            elif leftover.startswith(self.name + "-") and leftover.endswith(".zip") and os.name != "nt" \
                    and not os.path.islink(os.path.join(folder, leftover)):
                os.chmod(os.path.join(folder, leftover), 0o600)  # made readable to all by an older agent
        return make_backup(self.where.app_dir, path, {
            "app_dir": self.where.app_dir, "head": head, "previous_sha": previous_sha,
            "deploy_id": deploy_id, "created": utc_now(),
            "excluded": [".git", "virtual environments", "caches"]},
            skip=[self.where.venv, folder, self.where.state_dir])

    def prune(self, spare: str) -> List[str]:
        return keep_newest(self.where.backup_dir, re.escape(self.name) + r"-\d{8}T\d{6}Z-.+\.zip",
                           self.retention, spare=[spare])
