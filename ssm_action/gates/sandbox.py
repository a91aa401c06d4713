"""Who the project's code runs as: never as the user whose processes hold the action's secrets.

The action starts with every secret in its environment (INPUT_*, the AWS keys, the runner's
tokens). A process's /proc/<pid>/environ keeps the environment it started with for its whole
life, whatever is removed from os.environ later, so a test that walks up its parents finds them.
Linux lets a process read another's environ, or its memory, only as the same user (or with
CAP_SYS_PTRACE, which a container's root keeps but another user does not have). So when the
action runs as root (always, in its container), every tool the gates start runs as another,
unprivileged user: the owner of the working directory (on GitHub the runner's user, who owns the
checkout), else nobody (65534). That user gets a HOME of its own and the cache folders it builds
into; the action reads the reports back without following links, and only files that user wrote.

Re-executing the entrypoint with an empty environment was the other choice: it cleans PID 1, but
code running as root could still read the action's memory, write the runner's file commands and
the action's own files; and outside a container, the shell above the action keeps the secrets
anyway. When the action does not run as root (the CLI on a workstation, a runner without a
container), there is no other user to switch to: the tested code runs as you and can read what
you can, including the first environment of the processes above it. Its own environment is still
cleaned (isolation.py), which keeps well-behaved code from logging or sending a secret by mistake.

SSM_ACTION_RUN_AS overrides the choice when the action runs as root: a uid or uid:gid, or "self".
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ssm_action.errors import ActionError

RUN_AS = "SSM_ACTION_RUN_AS"
NOBODY = 65534  # nobody and nogroup on Debian, the image's base


@dataclass(frozen=True)
class Sandbox:
    """An unprivileged user for the project's code, and the HOME it is given."""

    uid: int
    gid: int
    home: Path

    def popen(self) -> dict[str, object]:
        """subprocess.Popen's arguments that start a process as this user, with no extra groups."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def variables(self) -> dict[str, str]:
        """HOME and the caches below it: the action's HOME belongs to root."""
        return {"HOME": str(self.home), "XDG_CACHE_HOME": str(self.home / ".cache"), "USER": str(self.uid),
                "LOGNAME": str(self.uid)}

    def give(self, folder: Path) -> Path:
        """The folder, made if missing, and everything in it, owned by this user (links are not
        followed: lchown changes a link itself). A folder reached through a link is refused: it
        could point at the action's own files."""
        folder.mkdir(parents=True, exist_ok=True)
        if folder.resolve() != folder.absolute():
            raise ActionError("Unsafe cache folder", f"{folder} is reached through a symbolic link, so it could "
                              "point anywhere: the project's code was not run. Give a cache-directory that is a "
                              "real folder.", anchor="the-projects-code-runs-as-another-user")
        for path in (folder, *_tree(folder)):
            if path.lstat().st_uid != self.uid:
                os.lchown(path, self.uid, self.gid)
        return folder


def _tree(folder: Path) -> list[Path]:
    found: list[Path] = []
    for top, dirs, files in os.walk(folder):  # does not descend into links to folders
        found += [Path(top, name) for name in (*dirs, *files)]
    return found


def identity(working_directory: Path) -> tuple[int, int] | None:
    """(uid, gid) the project's code runs as, or None: the action's own user."""
    given = os.environ.get(RUN_AS, "").strip()
    if given == "self" or os.geteuid() != 0:
        return None
    if given:
        uid, _, gid = given.partition(":")
        if not (uid.isdigit() and (gid.isdigit() or not gid)):
            raise ActionError("Invalid SSM_ACTION_RUN_AS", f"SSM_ACTION_RUN_AS is {given!r}: give a uid, uid:gid "
                              "or self (run the project's code as the action's own user).",
                              anchor="the-projects-code-runs-as-another-user")
        return int(uid), int(gid or uid)
    owner = working_directory.stat()
    return (owner.st_uid, owner.st_gid) if owner.st_uid != 0 else (NOBODY, NOBODY)


def start(working_directory: Path, scratch: Path) -> Sandbox | None:
    """The sandbox for one gates run (None when the code runs as the action's user); its HOME is
    a folder of scratch, which the user may cross but not list."""
    chosen = identity(working_directory)
    if chosen is None:
        return None
    os.chmod(scratch, 0o711)  # nosec B103 # a folder the tools cross to their HOME and reports; not listable
    box = Sandbox(chosen[0], chosen[1], scratch / "home")
    box.give(box.home)
    return box


def scratch_folder(parent: Path, name: str, box: Sandbox | None) -> Path:
    """A folder for one gate's reports, writable by the user its tools run as."""
    folder = parent / name
    folder.mkdir()
    return box.give(folder) if box else folder


def read_report(path: Path, box: Sandbox | None) -> str:
    """A report a tool wrote, read as text: a regular file, not a link, written by the tools' user
    (the action must not be made to read, and then print, a file only it can read)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        owner = box.uid if box else os.geteuid()
        if not stat.S_ISREG(info.st_mode) or info.st_uid != owner:
            raise OSError(f"{path} is not a file the tools wrote")
        return handle.read().decode("utf-8", errors="replace")
