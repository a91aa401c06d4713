#!/usr/bin/env bash
# actionlint and GitHub's JSON schema over this repository's workflows and the
# templates users copy (the templates are checked where users put them:
# .github/workflows of a repository, so reusable-workflow calls resolve).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="$(pwd)/.venv/bin"
[ -x "$bin/actionlint" ] || bin="$(dirname "$(command -v actionlint)")"
# action.yml's post-entrypoint is an absolute path inside the image (it must not depend on
# the runner's PATH); actionlint looks for it in the repository instead.
"$bin/actionlint" -ignore 'file "/action/post_entrypoint.py" does not exist' .github/workflows/*.yml
"$bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml examples/workflows/*.yml
user_repo="$(mktemp -d)"
trap 'rm -rf "$user_repo"' EXIT
mkdir -p "$user_repo/.github/workflows"
cp examples/workflows/*.yml "$user_repo/.github/workflows/"
git -C "$user_repo" init -q
(cd "$user_repo" && "$bin/actionlint")
echo "workflows and templates: lint clean"
