"""One Wine prefix for a test session: boot it once, run Windows processes in it, stop it.

What the trial on this kind of machine learned (platform-facts §10, §11), applied here:
- a clean environment (``env -i``): our own ``WINEPREFIX`` and ``HOME``, ``WINEDEBUG=-all``,
  no Mono/Gecko installers, no winedbg popping up on a crash;
- Windows Python's stdio are pipes or /dev/null, never a regular Linux file (CPython dies at
  start with WinError 6);
- we wait for the Windows process, not for EOF: detached children inherit the pipe;
- ``wineserver -p`` and ``wineboot`` once; ``wineserver -k`` for this prefix only at the end;
- an X display (Xvfb) so no Wine tool waits ~30 s for one.
"""

from __future__ import annotations

import contextlib
import ntpath
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

# Stand-in programs replace these builtins: "n" makes Wine load our file from system32.
DLL_OVERRIDES = "mscoree,mshtml=;winedbg.exe=d;taskkill.exe,powershell.exe=n"


def wine_missing() -> str:
    """Why Wine cannot run here, or "" when it can."""
    missing = [tool for tool in ("wine", "wineserver", "wineboot") if not shutil.which(tool)]
    return "not installed: %s" % ", ".join(missing) if missing else ""


@dataclass
class Ran:
    code: int
    out: str
    err: str


class Wine:
    """A booted Wine prefix: Windows paths map to ``<prefix>/drive_c`` (C:) and ``/`` (Z:)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.prefix = root / "prefix"
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.extra_env: dict[str, str] = {}
        self._xvfb: subprocess.Popen | None = None
        self.display = ""

    # -- paths

    def linux(self, windows_path: str) -> Path:
        drive, rest = ntpath.splitdrive(windows_path)
        base = {"c:": self.prefix / "drive_c", "z:": Path("/")}[drive.lower()]
        return base.joinpath(*[part for part in rest.split("\\") if part])

    def windows(self, linux_path: Path) -> str:
        path = Path(linux_path).resolve()
        drive_c = (self.prefix / "drive_c").resolve()
        if path == drive_c or drive_c in path.parents:
            return "C:\\" + "\\".join(path.relative_to(drive_c).parts)
        return "Z:" + str(path).replace("/", "\\")

    # -- environment

    def env(self, **extra: str) -> dict[str, str]:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.home), "WINEPREFIX": str(self.prefix),
               "WINEDEBUG": "-all", "WINEDLLOVERRIDES": DLL_OVERRIDES, "LANG": "C.UTF-8"}
        if self.display:
            env["DISPLAY"] = self.display
        env.update(self.extra_env)
        env.update(extra)
        return env

    # -- lifetime

    def boot(self) -> None:
        self._start_xvfb()
        self.prefix.mkdir(parents=True, exist_ok=True)
        quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
        subprocess.run(["wineserver", "-p"], env=self.env(), check=True, timeout=60, **quiet)
        subprocess.run(["wineboot", "-i"], env=self.env(), timeout=300, **quiet)
        if not (self.prefix / "drive_c" / "windows" / "system32").is_dir():
            raise RuntimeError("wineboot did not create %s" % self.prefix)

    def _start_xvfb(self) -> None:
        if not shutil.which("Xvfb"):
            return
        read, write = os.pipe()
        self._xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "640x480x8"],
            pass_fds=(write,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as handle:
            number = handle.readline().strip()
        self.display = ":" + number if number else ""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            subprocess.run(["wineserver", "-k"], env=self.env(), timeout=60,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            subprocess.run(["wineserver", "-w"], env=self.env(), timeout=60,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if self._xvfb:
            self._xvfb.kill()
            self._xvfb.wait()

    # -- Windows processes

    @contextlib.contextmanager
    def popen(self, argv: list[str], env: dict[str, str] | None = None) -> Iterator[
            tuple[subprocess.Popen, "queue.Queue[tuple[str, str | None]]"]]:
        """A Windows process on pipes; its output lines arrive on a queue as (stream, line),
        (stream, None) at EOF, which may never come: wait for the process instead."""
        lines: "queue.Queue[tuple[str, str | None]]" = queue.Queue()
        proc = subprocess.Popen(["wine", *argv], env=env or self.env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)

        def pump(name: str, stream: object) -> None:
            with stream:  # type: ignore[attr-defined]
                for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
                    lines.put((name, raw.decode("utf-8", "replace")))
            lines.put((name, None))

        for name, stream in (("out", proc.stdout), ("err", proc.stderr)):
            threading.Thread(target=pump, args=(name, stream), daemon=True).start()
        try:
            yield proc, lines
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            # The pipes stay with their reader threads: a detached child may hold them open.

    def run(self, argv: list[str], timeout: float = 300, env: dict[str, str] | None = None,
            on_line: Callable[[str, subprocess.Popen], None] | None = None) -> Ran:
        """Run to completion; ``on_line`` sees each stdout line while it runs."""
        out: list[str] = []
        err: list[str] = []
        deadline = time.monotonic() + timeout
        with self.popen(argv, env) as (proc, lines):
            while True:
                try:
                    name, line = lines.get(timeout=0.05)
                except queue.Empty:
                    if proc.poll() is not None:
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError("%s ran over %ss" % (argv, timeout))
                    continue
                if line is not None:
                    (out if name == "out" else err).append(line)
                    if name == "out" and on_line:
                        on_line(line, proc)
            time.sleep(0.05)  # the last lines written before exit
            while not lines.empty():
                name, line = lines.get()
                if line is not None:
                    (out if name == "out" else err).append(line)
        return Ran(proc.returncode, "".join(out), "".join(err))
