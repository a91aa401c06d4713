"""The release folders of an app deployed from artifacts, and ``app_dir`` as a link to one.

For ``app_dir`` ``/srv/web`` (``C:\\apps\\web`` alike)::

    /srv/web -> /srv/web.releases/20261201T101500123456Z-5129464944c8   symlink / junction
    /srv/web.releases/
        20261201T101500123456Z-5129464944c8/   a release: the commit's files,
            DEPLOY_ARTIFACT.json, .wheelhouse/ (shipped), .venv/, DEPLOY_RELEASE.json
        downloads/<sha256>.zip                 the newest artifact (.partial while it comes)
        releases.json                          the releases that passed their checks
        adopting.json                          only while a git clone is moved aside
    /srv/web.deploy/    the state folder, unchanged     /srv/web-backups/   unchanged

Every path stays ``<app_dir>/...`` as the docs describe it: the entry script, the venv
(``<app_dir>/.venv``), the hooks, and the command line the agent recognises the app by.
A release is ready once ``DEPLOY_RELEASE.json`` is written (after its install); only a
ready release is switched to. The first switch on a server deployed from git moves
the clone aside as the release ``<time>-adopted`` (a rollback can go back to it).
Files the artifact did not ship (a ``.env``, local settings, data the app wrote) are
carried from the current release into the new one, as git leaves untracked files.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Set, Tuple

from ssm_action.agent.artifact import read_manifest
from ssm_action.agent.errors import StepError
from ssm_action.agent.files import StateDir
from ssm_action.agent.layout import ADOPTING, CACHE_DIRS, RECORD
from ssm_action.agent.links import Links, link_target
from ssm_action.agent.output import utc_now, utc_stamp
from ssm_action.contract.artifact import MANIFEST, READY, WHEELHOUSE

NAME = re.compile(r"\d{8}T\d{12}Z-(?:[0-9a-f]{12}|adopted)")
GOOD_KEPT = 20


class Releases:
    def __init__(self, app_dir: str, links: Links) -> None:
        self.app_dir = os.path.normpath(app_dir)
        self.root = self.app_dir + ".releases"
        self.downloads = os.path.join(self.root, "downloads")
        self.records = StateDir(self.root)
        self.links = links
        self.adopted: Optional[str] = None  # the git clone this run moved into the releases

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def names(self) -> List[str]:
        """Every release folder, oldest first (names sort by creation time)."""
        try:
            return sorted(n for n in os.listdir(self.root) if NAME.fullmatch(n))
        except FileNotFoundError:
            return []

    def current(self) -> Optional[str]:
        """The release ``app_dir`` points at; None when it is no link into the releases."""
        target = link_target(self.app_dir)
        if target is None or os.path.normcase(os.path.dirname(target)) != os.path.normcase(
                self.root):
            return None
        return os.path.basename(target)

    def ready(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self.path(name), READY))

    def good(self) -> List[str]:
        """The releases that passed their checks, newest last."""
        names = self.records.read(RECORD).get("good")
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def rollback_target(self) -> Optional[str]:
        """What a failed deploy puts back: the newest good release still ready, else the
        current one (a server that was adopted, or whose last deploy was killed)."""
        for name in reversed(self.good()):
            if self.ready(name):
                return name
        current = self.current()
        return current if current and self.ready(current) else None

    def release_of(self, commit: str) -> Optional[str]:
        """The newest good release of ``commit`` that is still ready (``mode: rollback``)."""
        for name in reversed(self.good()):
            if self.ready(name) and StateDir(self.path(name)).read(READY).get("commit") == commit:
                return name
        return None

    def describe(self, name: Optional[str]) -> str:
        if not name:
            return "none"
        commit = StateDir(self.path(name)).read(READY).get("commit")
        return "%s (commit %s)" % (name, str(commit or "unknown")[:12])

    # -- before anything changes

    def prepare(self) -> str:
        """Repair a killed switch or adoption, drop half-made leftovers; a note."""
        os.makedirs(self.downloads, exist_ok=True)
        self.records.remove_temporary()
        notes = [self.links.repair(self.app_dir), self.finish_adoption()]
        for name in os.listdir(self.root):
            if name.endswith(".partial") and os.path.isdir(self.path(name)):
                shutil.rmtree(self.path(name), ignore_errors=True)
        return "; ".join(n for n in notes if n)

    def new_name(self, sha: str) -> str:
        return "%s-%s" % (utc_stamp(fraction=True), sha[:12])

    def download_path(self, sha256: str) -> str:
        return os.path.join(self.downloads, sha256 + ".zip")

    def keep_download(self, sha256: str) -> None:
        """Only this artifact's zip stays (a re-run of it needs no download)."""
        keep = os.path.basename(self.download_path(sha256))
        for name in os.listdir(self.downloads):
            if name != keep and not name.startswith(sha256):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.downloads, name))

    def mark_ready(self, name: str, info: Dict[str, Any]) -> None:
        StateDir(self.path(name)).write(READY, dict(info, release=name, ready=utc_now()))

    # -- server-local files

    def carry_over(self, name: str) -> List[str]:
        """Link (or copy) into release ``name`` the current release's files (and folders) that
        no artifact shipped; again after the app stopped, for what it wrote meanwhile. The
        files carried."""
        source = link_target(self.app_dir) if self.current() else (
            self.app_dir if os.path.isdir(self.app_dir) else None)
        if source is None or source == self.path(name):
            return []
        target = self.path(name)
        shipped = _shipped(target) | _shipped(source)
        carried = []
        for rel, is_dir in _local_files(source, shipped):
            if _carry(os.path.join(source, rel), os.path.join(target, rel), is_dir) and not is_dir:
                carried.append(rel)
        return carried

    # -- the change

    def switch(self, name: str) -> str:
        """Point ``app_dir`` at a ready release (adopting a git clone found there first)."""
        if not self.ready(name):
            raise StepError("release %s is not ready (its install did not finish): deploy "
                            "again" % name)
        notes = []
        if os.path.isdir(self.app_dir) and link_target(self.app_dir) is None:
            notes.append("moved the git clone aside as release %s" % self.adopt())
        before = self.current()
        try:
            self.links.switch(self.app_dir, self.path(name))
        except OSError as exc:
            raise StepError("cannot point %s at release %s (%s): the file system must support "
                            "symbolic links (Linux) or directory junctions (Windows, NTFS)" % (
                                self.app_dir, name, exc))
        notes.insert(0, "%s -> %s (was %s)" % (self.app_dir, name, before or "no release"))
        return "; ".join(notes)

    def adopt(self) -> str:
        """Move the plain folder at ``app_dir`` into the releases, as a ready release."""
        name = utc_stamp(fraction=True) + "-adopted"
        self.records.write(ADOPTING, {"release": name})
        try:
            os.rename(self.app_dir, self.path(name))
        except OSError as exc:
            self.records.remove(ADOPTING)
            raise StepError("cannot move %s aside (%s): close what keeps files open in it, "
                            "then deploy again" % (self.app_dir, exc.strerror or exc))
        self.finish_adoption()
        self.adopted = name
        return name

    def finish_adoption(self) -> str:
        """The moved clone ready and linked from ``app_dir`` (also after a killed adoption)."""
        name = self.records.read(ADOPTING).get("release")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            return ""
        note = ""
        if os.path.isdir(self.path(name)):
            if not self.ready(name):
                self.mark_ready(name, {"commit": None, "adopted": True})
            if not os.path.lexists(self.app_dir):
                self.links.switch(self.app_dir, self.path(name))
                note = "an interrupted adoption was finished: %s -> %s" % (self.app_dir, name)
        self.records.remove(ADOPTING)
        return note

    # -- after the checks

    def mark_good(self, name: str) -> None:
        good = [n for n in self.good() if n != name] + [name]
        self.records.write(RECORD, {"good": good[-GOOD_KEPT:], "updated": utc_now()})

    def prune(self, keep: int, spare: Tuple[str, ...] = ()) -> List[str]:
        """Delete every release that never passed its checks (unfinished, failed, killed) and
        all but the newest ``keep`` good ones; never the current one, the previous good one,
        or ``spare``. The names deleted."""
        good = self.good()
        kept: Set[str] = set(spare) | set(good[-2:]) | {self.current() or ""}
        names = self.names()
        passed = [n for n in names if n in good and self.ready(n)]
        doomed = set(names) - set(passed[-keep:])
        removed = [n for n in names if n in doomed and n not in kept]
        for name in removed:
            shutil.rmtree(self.path(name), ignore_errors=True)
        return removed


def _shipped(folder: str) -> Set[str]:
    """The paths an artifact put in ``folder`` (none for an adopted clone)."""
    files = read_manifest(folder).get("files")
    return {f for f in files if isinstance(f, str)} if isinstance(files, list) else set()


def _local_files(folder: str, shipped: Set[str]) -> List[Tuple[str, bool]]:
    """(path, is a folder) of what ``folder`` holds beyond ``shipped``: no venvs, caches,
    .git, wheelhouse or release records. Symlinks are carried as links, not followed."""
    found = []
    skip = CACHE_DIRS | {".git", WHEELHOUSE}
    for base, dirs, files in os.walk(folder):
        rel_base = os.path.relpath(base, folder)
        keep = []
        for name in sorted(dirs):
            path = os.path.join(base, name)
            if name in skip or os.path.isfile(os.path.join(path, "pyvenv.cfg")):
                continue
            if os.path.islink(path):
                files.append(name)
            else:
                keep.append(name)
                found.append((os.path.normpath(os.path.join(rel_base, name)), True))
        dirs[:] = keep
        for name in sorted(files):
            rel = os.path.normpath(os.path.join(rel_base, name))
            posix = rel.replace(os.sep, "/")
            if posix not in shipped and name not in (MANIFEST, READY) and not name.endswith(
                    (".pyc", ".pyo")):
                found.append((rel, False))
    return found


def _carry(src: str, dst: str, is_dir: bool) -> bool:
    """Make ``dst`` the same as ``src``: a hard link (one file, as with git), else a copy.
    False when it already was."""
    if is_dir:
        if os.path.isdir(dst):
            return False
        os.makedirs(dst, exist_ok=True)
        return True
    if os.path.islink(src):
        if os.path.islink(dst) and os.readlink(dst) == os.readlink(src):
            return False
        _remove(dst)
        os.symlink(os.readlink(src), dst)
        return True
    if os.path.lexists(dst):
        if os.path.samefile(src, dst) or _same_copy(src, dst):
            return False
        _remove(dst)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # no hard links on this file system
        shutil.copy2(src, dst)
    return True


def _same_copy(src: str, dst: str) -> bool:
    one, two = os.stat(src), os.stat(dst)
    return one.st_size == two.st_size and one.st_mtime_ns == two.st_mtime_ns


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
