#!/usr/bin/env bash
# Build the action's container image with podman, the way CI and the tests do.
#   scripts/build-image.sh [TAG]        (default TAG: localhost/ssm-deploy-action:dev)
# Public base images cannot be pulled on our build machines, so a local Debian
# base (python3, venv at /opt/venv, git, this machine's CA certificates) is made
# once with mmdebstrap and passed as BASE_IMAGE. Set BASE_IMAGE to skip that.
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/podman-env.sh
source "$root_dir/scripts/podman-env.sh"
tag="${1:-localhost/ssm-deploy-action:dev}"
local_base="localhost/ssm-action-base:bookworm"

build_local_base() {
  local mirror tar
  mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  tar="$PODMAN_HOME/base.tar"
  # The hooks run in mmdebstrap's shell, where $1 is the new root.
  # shellcheck disable=SC2016
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-pip,python3-venv,ca-certificates,git \
    --customize-hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" 2>/dev/null || true' \
    --customize-hook='chroot "$1" update-ca-certificates >/dev/null' \
    --customize-hook='chroot "$1" python3 -m venv /opt/venv' \
    bookworm "$tar" "$mirror"
  podman import --quiet \
    --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    "$tar" "$local_base" >/dev/null
  rm -f "$tar"
}

if [ -z "${BASE_IMAGE:-}" ]; then
  podman image exists "$local_base" || build_local_base
  BASE_IMAGE="$local_base"
fi
podman build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$tag" "$root_dir" >/dev/null
echo "$tag"
