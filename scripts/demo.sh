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
# The app is started by waitress (app-command) with NOTES_MODE from app-env and two
# app-secrets that the agent reads from a local moto (scripts/demo_aws.py: moto in
# server mode and the IMDSv2 stand-in, stopped when the demo ends), as it would read
# them from SSM Parameter Store and Secrets Manager on an EC2 instance.
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

# The local AWS (moto and an IMDSv2 stand-in): its endpoints in the variables the agent honours, as on a server.
rm -f "$demo/aws.env"
.venv/bin/python scripts/demo_aws.py "$demo/aws.env" &
aws_pid=$!
trap 'kill "$aws_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$demo/aws.env" ] && break; sleep 0.2; done
# shellcheck source=/dev/null
. "$demo/aws.env"
secrets="DATABASE_URL=ssm:/notes/database-url
NOTES_API_KEY=secretsmanager:notes/api#key"

if [ "$source" = artifact ]; then
  # The runner's S3 is the same local moto (the agent never gets these keys: the URL is presigned).
  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION="$AWS_REGION"
  .venv/bin/python -c 'import boto3; boto3.client("s3").create_bucket(Bucket="demo-artifacts")'
  # The "server" (the agent's environment only): its package index is a port where nothing listens.
  closed="http://127.0.0.1:9/simple/"
  export SSM_ACTION_SERVER_PIP_INDEX_URL="$closed" SSM_ACTION_SERVER_UV_INDEX_URL="$closed" \
    SSM_ACTION_SERVER_UV_DEFAULT_INDEX="$closed" SSM_ACTION_SERVER_PIP_RETRIES=0
  extra=(--source artifact --wheelhouse true --s3-bucket demo-artifacts --aws-region "$AWS_REGION")
  echo "source: artifact + wheelhouse through moto S3 at $AWS_ENDPOINT_URL; the server's package index: $closed"
fi

echo "Deploying $next from $demo/origin to $app_dir ..."
status=0
# The gates run the project's code as another user when the action runs as root (its container);
# here the sample app is ours and the action's Python may sit where no other user can run it.
SSM_ACTION_RUN_AS="${SSM_ACTION_RUN_AS:-self}" PORT="$port" .venv/bin/python -m ssm_action \
  --mode all --transport local \
  --working-directory "$demo/origin" \
  --smoke-imports "app, store" \
  --blocking-gates "$blocking" \
  --environment demo --create-deployment false \
  --app-directory "$app_dir" \
  --app-command "waitress-serve --listen=127.0.0.1:$port app:app" \
  --app-env "NOTES_MODE=demo" \
  --app-secrets "$secrets" \
  --health-check-url "http://127.0.0.1:$port/health" \
  --health-check-contains '"mode": "demo"' "${extra[@]}" || status=$?

echo
if [ "$status" = 0 ]; then
  echo "The app answers at http://127.0.0.1:$port/health :"
  .venv/bin/python -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$port/health').read().decode())"
  echo "(api_key is the fingerprint of the secret read from the local moto:" \
    "$(.venv/bin/python -c 'import hashlib, scripts.demo_aws as d; print(hashlib.sha256(d.API_KEY.encode()).hexdigest()[:12])'))"
  echo "Run ${DEMO_SOURCE:+DEMO_SOURCE=$source }./scripts/demo.sh again to deploy a new commit over it."
else
  echo "The deploy failed (exit $status): the summary above says why."
fi
exit "$status"
