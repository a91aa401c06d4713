"""Files the agent keeps: written atomically, JSON records in the state folder, pruning."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional


@contextlib.contextmanager
def atomic_file(path: str, tmp: str) -> Iterator[IO[bytes]]:
    """Write ``tmp``, flush it to disk, then rename it: a reader sees the old or the new file."""
    with open(tmp, "wb") as handle:
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


class StateDir:
    """JSON records in the state folder ``<app_dir>.deploy``."""

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def read(self, name: str) -> Dict[str, Any]:
        try:
            with open(self.path(name), encoding="utf-8") as handle:
                value = json.load(handle)
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

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
