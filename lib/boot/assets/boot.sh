#!/bin/bash
# redis-node-boot: first-boot setup of a Redis node, run once by cloud-init.
# Runs every boot part of this node in three phases: all checks first (so a
# wrong image fails before anything changes), then each part's prepare step,
# then each part's start step; parts run in the order of their file names.
set -euo pipefail

readonly LIB_DIR=${REDIS_NODE_LIB:-/usr/local/lib/redis-node}
# shellcheck source=/dev/null
source "$LIB_DIR/common.sh"

main() {
  local phase part name
  mkdir -p "$RUN_DIR" "$STATE_DIR"
  trap 'rm -rf "$SECRETS_DIR"' EXIT
  for phase in check prepare start; do
    for part in "$LIB_DIR"/parts/*.sh; do
      name=$(basename "$part" .sh)
      bash "$part" "$phase" || fail "boot part $name failed in its $phase step"
    done
  done
  rm -f "$TEMPLATE_DIR"/*.template
  touch "$DONE_MARKER"
  log "done"
}

main "$@"
