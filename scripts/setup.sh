#!/usr/bin/env bash
# Create or refresh .venv with the action's, the tests' and the gate tools' requirements.
# Idempotent: it reinstalls only when a requirements file changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "ssm-deploy-action needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
stamp=.venv/.requirements.sha256
wanted="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Setting up .venv (Python: $("$python" --version))..."
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$wanted" > "$stamp"
fi
