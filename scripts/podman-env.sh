# shellcheck shell=bash
# Source this file: it points podman at a private config and storage that work on
# our build machines (runc, not crun; overlay storage in a folder we own; ulimits
# the host allows). See ../shared/notes/platform-facts.md §6 in the dev notes.
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PODMAN_HOME="${PODMAN_HOME:-$root_dir/.cache/podman}"
mkdir -p "$PODMAN_HOME/storage" "$PODMAN_HOME/run"
cat > "$PODMAN_HOME/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
cat > "$PODMAN_HOME/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$PODMAN_HOME/storage"
runroot = "$PODMAN_HOME/run"
CONF
export CONTAINERS_CONF="$PODMAN_HOME/containers.conf"
export CONTAINERS_STORAGE_CONF="$PODMAN_HOME/storage.conf"
