#!/bin/bash
# Boot part "redis-server": checks the packaged Redis, renders redis.conf and
# the ACL file from their templates once, and starts redis-server under systemd.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/redis.sh"
load_node_env
: "${REDIS_PORT:?}" "${MIN_REDIS_MAJOR:?}" "${REDIS_HEALTH_USER:?}"

case ${1:-} in
  check)
    require_command redis-server "$APT_HINT"
    require_command redis-cli "$APT_HINT"
    check_redis_version redis-server "$MIN_REDIS_MAJOR"
    ;;
  prepare)
    # The package started the service with its stock settings.
    systemctl stop redis-server.service 2>/dev/null || true
    install_config users.acl
    install_config redis.conf
    # Masked since the first boot (cloud-config bootcmd) so that apt could not start it.
    enable_units redis-server.service
    ;;
  start) start_service redis-server.service "$REDIS_PORT" /var/log/redis/redis-server.log "$REDIS_HEALTH_USER" ;;
  *) fail "usage: $0 check|prepare|start" ;;
esac
