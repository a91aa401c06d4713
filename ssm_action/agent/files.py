"""Files the agent keeps: written atomically, JSON records in the state folder, pruning."""

from __future__ import annotations

import contextlib
import hashlib
import json
import ntpath
import os
import re
from typing import IO, Any, Callable, Dict, Iterable, Iterator, List, Optional

from ssm_action.agent.output import utc_stamp

Check = Callable[[Dict[str, Any]], str]  # why a record read back cannot be used ("" when it can)


@contextlib.contextmanager
def atomic_file(path: str, tmp: str, mode: int = 0o644) -> Iterator[IO[bytes]]:
    """Write ``tmp`` (created with ``mode``), flush it to disk, then rename it: a reader sees the old or
    the new file. A leftover ``tmp`` is removed by its owner first (it would keep its mode)."""
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), mode),
                   "wb") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_atomic(path: str, data: bytes) -> None:
    with atomic_file(path, "%s.%d.tmp" % (path, os.getpid())) as handle:
        handle.write(data)


def keep_copy(path: str, data: Optional[bytes]) -> None:
    """``data`` kept at ``path`` for a later restore, or ``path`` removed: there was nothing."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if data is None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    else:
        write_atomic(path, data)


def mistyped(value: Dict[str, Any], types: Dict[str, Any]) -> str:
    """The first field of ``value`` not of its type in ``types`` ("" when none); a record read back is
    data to check: a bool is no int here."""
    for name, kind in types.items():
        item = value.get(name)
        if name in value and (isinstance(item, bool) != (kind is bool) or not isinstance(item, kind)):
            return "%s is %.40r" % (name, item)
    return ""


def safe_relative(rel: Any) -> bool:
    """A path that stays in the folder it is joined to: relative, no '..', no drive, no NUL."""
    return isinstance(rel, str) and rel != "" and "\0" not in rel and ".." not in re.split(r"[/\\]", rel) \
        and not rel.startswith(("/", "\\")) and not ntpath.splitdrive(rel)[0] and not (os.name == "nt" and ":" in rel)


def inside(outer: str, path: str) -> bool:
    """Whether ``path``, links resolved, is ``outer`` or below it."""
    outer, path = (os.path.normcase(os.path.realpath(p)) for p in (outer, path))
    return path == outer or path.startswith(outer.rstrip(os.sep) + os.sep)


class StateDir:
    """JSON records in the state folder ``<app_dir>.deploy``.

    A record is data, never an instruction: one that is not JSON, not an object, or fails the
    reader's check is set aside as ``<name>.corrupt-<time>`` (when ``warn`` is given: the deploy
    holding the lock) and read as absent, so the next deploy goes on from git and the backups.
    """

    def __init__(self, root: str, warn: Optional[Callable[[str], None]] = None) -> None:
        self.root = root
        self.warn = warn  # None: read only (status), a bad record is left where it is

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def read(self, name: str, check: Optional[Check] = None) -> Dict[str, Any]:
        try:
            with open(self.path(name), encoding="utf-8") as handle:
                value = json.load(handle)
        except OSError:
            return {}
        except (ValueError, RecursionError) as exc:
            return self.set_aside(name, "not JSON: %s" % exc)
        why = (check(value) if check else "") if isinstance(value, dict) else "not a JSON object"
        return self.set_aside(name, why) if why else value

    def set_aside(self, name: str, why: str) -> Dict[str, Any]:
        """Move a bad record out of the way (said); {} in its place."""
        if self.warn:
            aside = "%s.corrupt-%s" % (self.path(name), utc_stamp())
            with contextlib.suppress(OSError):
                os.replace(self.path(name), aside)
            self.warn("the record %s was unusable (%s): moved to %s" % (self.path(name), why[:200], aside))
        return {}

    def write(self, name: str, value: Dict[str, Any]) -> None:
        write_atomic(self.path(name), json.dumps(value, indent=1).encode("utf-8"))

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path(name))

    def remove_temporary(self) -> None:
        """Records half-written by a killed agent."""
        for name in os.listdir(self.root):
            if name.endswith(".tmp"):
                os.remove(self.path(name))


def file_hash(path: str) -> str:
    """sha256 of a file's bytes; "" when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return ""


def keep_newest(folder: str, pattern: str, keep: int, spare: Iterable[str] = ()) -> List[str]:
    """Delete all but the ``keep`` newest files (names sort by time) matching ``pattern``."""
    try:
        names = sorted(n for n in os.listdir(folder) if re.fullmatch(pattern, n))
    except FileNotFoundError:
        return []
    doomed = [os.path.join(folder, n) for n in names[:-keep]]
    doomed = [path for path in doomed if path not in set(spare)]
    for path in doomed:
        with contextlib.suppress(OSError):
            os.remove(path)
    return doomed
