"""Backups: zip files of the work tree, enough to bring the app back without git.

``<backup_dir>/<app>-<UTC time>-<deploy_id>.zip`` holds the work tree WITHOUT
``.git``, virtual environments and caches, plus a ``DEPLOY_BACKUP.json``
manifest naming the commit. Files alone bring the app back even when the
clone's history is lost (unzip, create the venv, start it).
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from typing import Any, Dict, Iterable, List, Optional

from ssm_action.agent.files import atomic_file, keep_newest, write_atomic
from ssm_action.agent.layout import Layout
from ssm_action.agent.output import utc_now, utc_stamp

MANIFEST = "DEPLOY_BACKUP.json"
CACHE_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox"}


def make_backup(app_dir: str, dest: str, manifest: Dict[str, Any], skip: Iterable[str]) -> str:
    """Zip the work tree without .git, venvs, caches and ``skip`` folders; return its path."""
    skipped = {os.path.normcase(os.path.normpath(path)) for path in skip}
    with atomic_file(dest, dest + ".partial") as handle, zipfile.ZipFile(
            handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1, strict_timestamps=False) as archive:
        for folder, dirs, files in os.walk(app_dir):
            dirs[:] = sorted(
                d for d in dirs
                if d != ".git" and d not in CACHE_DIRS
                and os.path.normcase(os.path.join(folder, d)) not in skipped
                and not os.path.isfile(os.path.join(folder, d, "pyvenv.cfg")))
            for name in sorted(files):
                path = os.path.join(folder, name)
                if not name.endswith((".pyc", ".pyo")) and os.path.isfile(path):
                    archive.write(path, os.path.relpath(path, app_dir))
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
    return dest


def _safe_member(name: str) -> bool:
    return not (name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", name) or ":" in name)


def restore_from_backup(backup: str, app_dir: str, paths: Optional[List[str]] = None) -> int:
    """Put files back from a backup: ``paths`` only (deleting those it lacks) or all."""
    with zipfile.ZipFile(backup) as archive:
        members = {m for m in archive.namelist() if m != MANIFEST and _safe_member(m)}
        wanted = members if paths is None else set(paths)
        for rel in sorted(wanted):
            target = os.path.join(app_dir, rel)
            if rel in members:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                write_atomic(target, archive.read(rel))
            elif os.path.isfile(target) or os.path.islink(target):
                os.remove(target)  # it did not exist in the backed-up version
    return len(wanted)


class Backups:
    """One app's backups in its backup folder, the newest ``retention`` kept."""

    def __init__(self, where: Layout, retention: int) -> None:
        self.where = where
        self.retention = retention
        self.name = os.path.basename(where.app_dir)

    def create(self, deploy_id: str, head: Optional[str], previous_sha: Optional[str]) -> str:
        folder = self.where.backup_dir
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "%s-%s-%s.zip" % (self.name, utc_stamp(), deploy_id))
        for leftover in os.listdir(folder):  # from a killed backup
            if leftover.endswith(".partial"):
                os.remove(os.path.join(folder, leftover))
        return make_backup(self.where.app_dir, path, {
            "app_dir": self.where.app_dir, "head": head, "previous_sha": previous_sha,
            "deploy_id": deploy_id, "created": utc_now(),
            "excluded": [".git", "virtual environments", "caches"]},
            skip=[self.where.venv, folder, self.where.state_dir])

    def prune(self, spare: str) -> List[str]:
        return keep_newest(self.where.backup_dir, re.escape(self.name) + r"-\d{8}T\d{6}Z-.+\.zip",
                           self.retention, spare=[spare])
