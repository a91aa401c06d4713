#!/usr/bin/env bash
# The main job on the embedded default: the action's gates and a local deploy of
# examples/sample-app (transport: local, the same agent that runs on servers).
#
#   ./scripts/demo.sh     first run: make a "server" in .demo/, gate, deploy v1.0.1
#                         every next run: commit a new version, gate, deploy it over
#
# .demo/origin is the repository the action checks and deploys from (your push);
# .demo/server/app is the server's clone that the agent deploys into.
# The app stays up on http://127.0.0.1:$DEMO_PORT/health (default port 18080).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
demo="$(pwd)/.demo"
port="${DEMO_PORT:-18080}"
git_quiet() { git -c user.name=demo -c user.email=demo@example.invalid "$@" >/dev/null; }

if [ ! -d "$demo/origin/.git" ]; then
  mkdir -p "$demo/server"
  cp -r examples/sample-app "$demo/origin"
  git_quiet -C "$demo/origin" init -b main
  git clone -q "$demo/origin" "$demo/server/app"
fi
# A new version for every run, so each run deploys a new commit over the last one.
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$demo/origin/app.py")"
next="${version%.*}.$(( ${version##*.} + 1 ))"
sed -i "s/^__version__ = \".*\"$/__version__ = \"$next\"/" "$demo/origin/app.py"
git_quiet -C "$demo/origin" add -A
git_quiet -C "$demo/origin" commit -m "Release $next"

# pip-audit asks PyPI's vulnerability service. Where that is out of reach (our offline
# build machines), the gate reports `error`; the demo then lets it not block, and says so.
blocking="tests, pip-audit, flake8, smoke, env, deps"
if ! .venv/bin/python -c 'import urllib.request as u; u.urlopen("https://pypi.org/pypi/pip/24.0/json", timeout=5)' \
    2>/dev/null; then
  blocking="tests, flake8, smoke, env, deps"
  echo "NOTE: PyPI's vulnerability service is out of reach from here: pip-audit will report"
  echo "      'error' and, in this demo only, will not block the deploy."
fi

echo "Deploying $next from $demo/origin to $demo/server/app ..."
status=0
PORT="$port" .venv/bin/python -m ssm_action \
  --mode all --transport local \
  --working-directory "$demo/origin" \
  --smoke-imports "app, store" \
  --blocking-gates "$blocking" \
  --environment demo --create-deployment false \
  --app-directory "$demo/server/app" \
  --health-check-url "http://127.0.0.1:$port/health" || status=$?

echo
if [ "$status" = 0 ]; then
  echo "The app answers at http://127.0.0.1:$port/health :"
  .venv/bin/python -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$port/health').read().decode())"
  echo "Run ./scripts/demo.sh again to deploy a new commit over it."
else
  echo "The deploy failed (exit $status): the summary above says why."
fi
exit "$status"
