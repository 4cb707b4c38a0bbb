#!/bin/bash
# Boot part "sentinel": checks the packaged Sentinel, renders sentinel.conf
# from its template once, and starts redis-sentinel under systemd.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/common.sh"
load_node_env
: "${SENTINEL_PORT:?}" "${MIN_REDIS_MAJOR:?}" "${SENTINEL_HEALTH_USER:?}"

case ${1:-} in
  check)
    require_command redis-sentinel "$APT_HINT"
    require_command redis-cli "$APT_HINT"
    check_redis_version redis-sentinel "$MIN_REDIS_MAJOR"
    ;;
  prepare)
    # The package started the service with its stock settings.
    systemctl stop redis-sentinel.service 2>/dev/null || true
    install_config sentinel.conf
    ;;
  start) start_service redis-sentinel.service "$SENTINEL_PORT" /var/log/redis/redis-sentinel.log "$SENTINEL_HEALTH_USER" ;;
  *) fail "usage: $0 check|prepare|start" ;;
esac
