#!/usr/bin/env bash
# Set up and run the whole test suite: ./scripts/test.sh [--fast] [pytest arguments]
# The container tests need podman and mmdebstrap: installed here when missing and
# apt-get can (root on Debian), else those tests are skipped with a loud reason;
# likewise Wine for the Windows tests (scripts/wine-setup.sh).
# --fast: the edit-run loop; no slow or container tests, no podman install, one process.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
if [ "${1:-}" = "--fast" ]; then
  shift
  exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-0}" -m "not slow and not container" "$@"
fi
if ! command -v podman >/dev/null || ! command -v mmdebstrap >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing podman and mmdebstrap for the container tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      podman buildah runc crun fuse-overlayfs slirp4netns uidmap mmdebstrap \
      containernetworking-plugins netavark aardvark-dns catatonit >/dev/null
  fi
fi
scripts/wine-setup.sh
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-auto}" "$@"
