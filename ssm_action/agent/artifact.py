"""An artifact on the server: downloaded (bounded, resumable), verified, unpacked safely.

Nothing here touches the running app: the zip goes to a downloads folder beside the
releases, and the files into a NEW release folder.

- ``download``: streams ``source`` into ``<sha256>.zip.partial``: an http(s) URL (the
  presigned S3 GET), a ``file://`` URL or a local path (the local transport's artifact
  store). Exactly ``size`` bytes are accepted; each read has a timeout; a dropped
  transfer is retried (bounded, with backoff) and resumed from the bytes already on
  disk (an HTTP Range request), also by the next run after a killed one.
- ``verify``: the sha256 of the whole file, then the rename to ``<sha256>.zip``; a
  mismatch deletes it. A kept ``<sha256>.zip`` is hashed again before it is used.
- ``unpack``: every member is checked first (no absolute path, drive, ``..``, backslash,
  symlink or duplicate, and enough free disk), then written into ``<target>.partial``,
  which is renamed to ``target``: a release folder is whole or absent.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

from ssm_action.agent.errors import StepError
from ssm_action.agent.files import StateDir
from ssm_action.contract.artifact import MANIFEST, unsafe_name

CHUNK = 1024 * 1024
ATTEMPTS = 4
TIMEOUT = 60.0  # seconds for the connection and for each read
DISK_MARGIN = 64 * 1024 * 1024  # left free after an unpack
Progress = Callable[[int], None]  # bytes on disk so far
WINDOWS = os.name == "nt"


class _Transient(Exception):
    """A failure worth another attempt (connection, timeout, 5xx, a short body)."""


def where(source: str) -> str:
    """The source without its query: a presigned URL's signature never reaches a log."""
    parts = urllib.parse.urlsplit(source)
    return urllib.parse.urlunsplit(parts[:3] + ("", "")) if parts.query else source


def local_path(source: str) -> Optional[str]:
    """The file behind a ``file://`` URL or a plain path; None for http(s)."""
    if re.match(r"https?://", source, re.I):
        return None
    if source.lower().startswith("file://"):
        return urllib.request.url2pathname(urllib.parse.urlsplit(source).path)
    return source


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_http(url: str, offset: int, timeout: float) -> Tuple[IO[bytes], bool]:
    """The response body, and whether it starts at ``offset`` (False: from byte 0)."""
    request = urllib.request.Request(url, headers={"Range": "bytes=%d-" % offset} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # nosec B310 # http(s) only
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:  # nothing after offset: start again from 0
            return _open_http(url, 0, timeout)
        if exc.code >= 500 or exc.code == 429:
            raise _Transient("HTTP %d" % exc.code)
        raise StepError("downloading the artifact from %s was refused (HTTP %d): %s" % (
            where(url), exc.code, "the presigned URL expired (re-run the deploy) or the "
            "object is gone" if exc.code in (403, 404) else "check the artifact URL"))
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Transient(str(getattr(exc, "reason", exc)))
    resumed = bool(offset) and response.status == 206 and str(
        response.headers.get("Content-Range", "")).startswith("bytes %d-" % offset)
    return response, resumed


def _open(source: str, offset: int, timeout: float) -> Tuple[IO[bytes], bool]:
    path = local_path(source)
    if path is None:
        return _open_http(source, offset, timeout)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise StepError("cannot read the artifact %s: %s" % (path, exc.strerror or exc))
    handle.seek(offset)
    return handle, True


def _transfer(source: str, partial: str, size: int, timeout: float,
              progress: Optional[Progress]) -> None:
    """One attempt: append to ``partial`` up to ``size`` bytes (from 0 when not resumable)."""
    have = os.path.getsize(partial) if os.path.isfile(partial) else 0
    if have == size:
        return
    have = have if have < size else 0
    body, resumed = _open(source, have, timeout)
    with body, open(partial, "ab" if resumed and have else "wb") as out:
        have = have if resumed else 0
        try:
            while have <= size:
                block = body.read(min(CHUNK, size + 1 - have))
                if not block:
                    break
                out.write(block)
                have += len(block)
                if progress:
                    progress(have)
        except (OSError, http.client.HTTPException) as exc:
            raise _Transient("the transfer broke after %d bytes: %s" % (have, exc))
    if have > size:
        os.remove(partial)
        raise StepError("the artifact from %s is larger than the %d bytes the runner sent: "
                        "a wrong URL or a replaced object; nothing was changed" % (
                            where(source), size))
    if have < size and local_path(source) is not None:
        raise StepError("the artifact %s has %d bytes, not the %d the runner sent: it is not "
                        "the one packed; nothing was changed" % (source, have, size))
    if have < size:
        raise _Transient("the transfer ended after %d of %d bytes" % (have, size))


def download(source: str, partial: str, size: int, timeout: float = TIMEOUT,
             attempts: int = ATTEMPTS, progress: Optional[Progress] = None,
             sleep: Callable[[float], None] = time.sleep) -> str:
    """Bring ``source`` into ``partial`` (resuming what is there); a detail line."""
    kept = os.path.getsize(partial) if os.path.isfile(partial) else 0  # from a killed run
    attempt = 1
    while True:
        try:
            _transfer(source, partial, size, timeout, progress)
            notes = ["resumed at %.1f MB" % (kept / 1e6)] if 0 < kept <= size else []
            notes += ["attempt %d" % attempt] if attempt > 1 else []
            return "%.1f MB from %s%s" % (size / 1e6, where(source), " (%s)" % ", ".join(notes)
                                          if notes else "")
        except _Transient as exc:
            if attempt >= attempts:
                raise StepError("downloading the artifact from %s failed %d times (last: %s): "
                                "check that this server reaches S3 (a gateway endpoint in a "
                                "private subnet); nothing was changed" % (
                                    where(source), attempts, exc))
        sleep(min(2.0 ** (attempt - 1), 8.0))
        attempt += 1


def verify(partial: str, sha256: str, final: str) -> str:
    """Hash the downloaded file; rename it to ``final`` only when it is the one expected."""
    digest = file_sha256(partial)
    if digest != sha256:
        os.remove(partial)
        raise StepError("the artifact's sha256 is %s, not %s: it was changed after the upload "
                        "or the URL is wrong; refused" % (digest, sha256))
    os.replace(partial, final)
    return "sha256 %s ok" % sha256[:12]


def check_members(archive: zipfile.ZipFile) -> int:
    """Refuse unsafe members (the first named); the unpacked size in bytes."""
    seen: Dict[str, str] = {}
    for info in archive.infolist():
        why = unsafe_name(info.filename, WINDOWS)
        if why is None and stat.S_ISLNK(info.external_attr >> 16):
            why = "a symbolic link"
        key = info.filename.rstrip("/")
        key = key.lower() if WINDOWS else key  # one file on a case-insensitive disk
        if why is None and key in seen:
            why = "a duplicate of %r" % seen[key]
        if why:
            raise StepError("the artifact holds %r, %s: refused" % (
                info.filename, why))
        seen[key] = info.filename
    return sum(info.file_size for info in archive.infolist())


def _mode(info: zipfile.ZipInfo) -> int:
    """rwxr-xr-x for a member a POSIX runner marked executable, else rw-r--r--."""
    executable = info.create_system == 3 and (info.external_attr >> 16) & 0o100
    return 0o755 if executable else 0o644


def unpack(zip_path: str, target: str) -> List[str]:
    """Check every member, unpack into ``<target>.partial``, rename it; the member names."""
    temporary = target + ".partial"
    if os.path.isdir(temporary):  # left by a killed unpack
        shutil.rmtree(temporary)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise StepError("the artifact %s is not a zip file (%s): refused" % (zip_path, exc))
    with archive:
        needed = check_members(archive)
        parent = os.path.dirname(target)
        free = shutil.disk_usage(parent).free
        if free < needed + DISK_MARGIN:
            raise StepError("unpacking needs %.0f MB but %s has %.0f MB free: free some space "
                            "(old releases, logs); nothing was changed" % (
                                (needed + DISK_MARGIN) / 1e6, parent, free / 1e6))
        os.makedirs(temporary)
        names = []
        for info in archive.infolist():
            path = os.path.join(temporary, *info.filename.rstrip("/").split("/"))
            if info.is_dir():
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with archive.open(info) as src, open(path, "xb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            if os.name != "nt":
                os.chmod(path, _mode(info))
            names.append(info.filename)
    os.rename(temporary, target)
    return names


def read_manifest(release: str) -> Dict[str, Any]:
    """The artifact's manifest in an unpacked release ({} when there is none)."""
    return StateDir(release).read(MANIFEST)
