#!/usr/bin/env bash
# Create or refresh .venv with the action's, the tests' and the gate tools' requirements, and
# the package itself (a path entry: editable, so `.venv/bin/python -m ssm_action` works from
# any folder). Idempotent: it reinstalls only when a requirements file changed.
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
site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [ "$(cat "$site/ssm_action_checkout.pth" 2>/dev/null)" != "$PWD" ]; then
  echo "$PWD" > "$site/ssm_action_checkout.pth"
fi
