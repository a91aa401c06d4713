#!/usr/bin/env bash
# The main job on the embedded default: the action's gates and a local deploy of
# examples/sample-app (transport: local, the same agent that runs on servers).
#
#   ./scripts/demo.sh     first run: make a "server" in .demo/, gate, deploy v1.0.1
#                         every next run: commit a new version, gate, deploy it over
#   DEMO_SOURCE=artifact ./scripts/demo.sh
#                         the same with source: artifact and wheelhouse: true: the commit is
#                         packed with its wheels and stored in a local moto S3 server; the
#                         "server" (.demo/server/app-artifact, port 18081) has its package
#                         index at a closed port, so it installs from the wheelhouse only
#
# .demo/origin is the repository the action checks and deploys from (your push);
# .demo/server/app is the server's clone that the agent deploys into.
# The app stays up on http://127.0.0.1:$DEMO_PORT/health (default port 18080).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
demo="$(pwd)/.demo"
source="${DEMO_SOURCE:-git}"
case "$source" in
  git) port="${DEMO_PORT:-18080}"; app_dir="$demo/server/app"; extra=() ;;
  artifact) port="${DEMO_PORT:-18081}"; app_dir="$demo/server/app-artifact" ;;
  *) echo "DEMO_SOURCE must be git or artifact, not $source" >&2; exit 2 ;;
esac
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

if [ "$source" = artifact ]; then
  # S3: a moto server on a free port, stopped when the demo ends (the app keeps running).
  s3_port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  .venv/bin/moto_server -H 127.0.0.1 -p "$s3_port" >"$demo/moto.log" 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
  export AWS_ENDPOINT_URL="http://127.0.0.1:$s3_port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  .venv/bin/python - <<'PY'
import time
import boto3
for _ in range(100):  # until moto answers
    try:
        boto3.client("s3").create_bucket(Bucket="demo-artifacts")
        break
    except Exception:
        time.sleep(0.1)
PY
  # The "server" (the agent's environment only): its package index is a port where nothing listens.
  closed="http://127.0.0.1:9/simple/"
  export SSM_ACTION_SERVER_PIP_INDEX_URL="$closed" SSM_ACTION_SERVER_UV_INDEX_URL="$closed" \
    SSM_ACTION_SERVER_UV_DEFAULT_INDEX="$closed" SSM_ACTION_SERVER_PIP_RETRIES=0
  extra=(--source artifact --wheelhouse true --s3-bucket demo-artifacts --aws-region us-east-1)
  echo "source: artifact + wheelhouse through moto S3 at $AWS_ENDPOINT_URL; the server's package index: $closed"
fi

echo "Deploying $next from $demo/origin to $app_dir ..."
status=0
PORT="$port" .venv/bin/python -m ssm_action \
  --mode all --transport local \
  --working-directory "$demo/origin" \
  --smoke-imports "app, store" \
  --blocking-gates "$blocking" \
  --environment demo --create-deployment false \
  --app-directory "$app_dir" \
  --health-check-url "http://127.0.0.1:$port/health" "${extra[@]}" || status=$?

echo
if [ "$status" = 0 ]; then
  echo "The app answers at http://127.0.0.1:$port/health :"
  .venv/bin/python -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$port/health').read().decode())"
  echo "Run ${DEMO_SOURCE:+DEMO_SOURCE=$source }./scripts/demo.sh again to deploy a new commit over it."
else
  echo "The deploy failed (exit $status): the summary above says why."
fi
exit "$status"
