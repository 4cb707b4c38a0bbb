#!/bin/bash
# Boot part "tuning": applies the kernel settings Redis asks for (sysctl.d
# file and the THP unit, both written by cloud-init so they hold after a
# reboot) and checks that transparent huge pages are off.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/common.sh"

prepare() {
  load_node_env
  : "${SYSCTL_FILE:?}" "${THP_UNIT:?}"
  sysctl -p "$SYSCTL_FILE"
  # Loads the units cloud-init wrote; the enable needs no second reload.
  systemctl daemon-reload
  systemctl enable --no-reload --now "$THP_UNIT"
  [[ $(cat /sys/kernel/mm/transparent_hugepage/enabled) == *"[never]"* ]] ||
    fail "transparent huge pages are still enabled"
}

case ${1:-} in
  check | start) ;;
  prepare) prepare ;;
  *) fail "usage: $0 check|prepare|start" ;;
esac
