#!/bin/bash
# Runs every boot part of this node in three phases: all checks first (so a
# wrong image fails before anything changes), then each part's prepare step,
# then each part's start step; parts run in the order node.env lists them
# (BOOT_PARTS). Part of the boot library: the entry script
# (redis-node-boot, in the user data) installs the library and runs this.
set -euo pipefail

readonly LIB_DIR=${REDIS_NODE_LIB:-/usr/local/lib/redis-node}
# shellcheck source=/dev/null
source "$LIB_DIR/common.sh"

# Secrets go in every case. A failed setup leaves the services stopped,
# disabled and masked (as they were before it): no Redis or Sentinel port
# opens with a half-done configuration, not even after a reboot.
on_exit() {
  local status=$? services=${REDIS_NODE_SERVICES:-redis-server.service redis-sentinel.service}
  rm -rf "$SECRETS_DIR"
  if ((status != 0)); then
    # shellcheck disable=SC2086 # a list of unit names
    systemctl disable --now $services >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    systemctl mask $services >/dev/null 2>&1 || true
    log "setup failed: $services stay stopped, disabled and masked; fix the cause, then run $0 again"
  fi
}

main() {
  local phase name
  mkdir -p "$RUN_DIR" "$STATE_DIR"
  trap on_exit EXIT
  load_node_env
  : "${BOOT_PARTS:?}"
  for phase in check prepare start; do
    # One reload for every unit, drop-in, fstab line and unmask the parts
    # wrote (they do not reload systemd themselves): each reload re-runs
    # every generator.
    [[ $phase != start ]] || systemctl daemon-reload
    for name in $BOOT_PARTS; do
      bash "$LIB_DIR/parts/$name.sh" "$phase" || fail "boot part $name failed in its $phase step"
    done
  done
  rm -f "$TEMPLATE_DIR"/*.template
  touch "$DONE_MARKER"
  log "done"
}

main "$@"
