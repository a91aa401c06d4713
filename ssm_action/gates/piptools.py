"""pip-tools projects: requirement files compiled (`pip-compile`) from .in files. The compiled
.txt is what the project installs (exact pins, often with hashes); the .in only when it was
never compiled. Those of the app and of its tests are installed, not those of other jobs."""

from __future__ import annotations

from pathlib import Path

FOLDERS = (".", "requirements")
APP_NAMES = ("requirements", "base", "main", "common")
TEST_WORDS = ("dev", "test", "local", "ci")
OTHER_JOBS = ("doc", "lint", "typing", "mypy", "prod", "deploy", "release")


def files(root: Path) -> list[str]:
    """The app's and the tests' requirement files compiled from .in files, relative to root."""
    found = []
    for folder in FOLDERS:
        for source in sorted((root / folder).glob("*.in")):
            stem = source.stem.lower()
            words = stem.replace("_", "-").split("-")
            if any(word in stem for word in OTHER_JOBS):
                continue
            if stem in APP_NAMES or any(word.startswith(TEST_WORDS) for word in words):
                compiled = source.with_suffix(".txt")
                chosen = compiled if compiled.is_file() else source
                found.append(chosen.relative_to(root).as_posix())
    return found


def has_hashes(path: Path) -> bool:
    """A requirement file pinned with --hash options (pip-compile --generate-hashes)."""
    try:
        return "--hash" in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
