#!/bin/bash
# Boot part "sentinel": checks the packaged Sentinel, renders sentinel.conf
# from its template once, and starts redis-sentinel under systemd.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/redis.sh"

# Sentinel writes auth-pass and sentinel-pass back without quotes when it
# rewrites its config: a password that needs quotes breaks its next start.
require_rewritable_passwords() {
  local user password
  for user in $SENTINEL_REWRITTEN_USERS; do
    password=$(secret_password "$user") || exit 1
    [[ $password =~ ^[A-Za-z0-9._+=/-]+$ ]] ||
      fail "the password of user $user has characters Sentinel cannot write back unquoted (space, quote, backslash, #...): use letters, digits and . _ + = / -"
  done
}

main() {
  load_node_env
  : "${SENTINEL_PORT:?}" "${MIN_REDIS_MAJOR:?}" "${SENTINEL_HEALTH_USER:?}" "${SENTINEL_REWRITTEN_USERS:?}"
  case ${1:-} in
    check)
      require_command redis-sentinel "$APT_HINT"
      require_command redis-cli "$APT_HINT"
      check_redis_version redis-sentinel "$MIN_REDIS_MAJOR"
      ;;
    prepare)
      # The package started the service with its stock settings.
      systemctl stop redis-sentinel.service 2>/dev/null || true
      [[ -f $DONE_MARKER ]] || require_rewritable_passwords
      install_config sentinel.conf
      enable_units redis-sentinel.service
      ;;
    start) start_service redis-sentinel.service "$SENTINEL_PORT" /var/log/redis/redis-sentinel.log "$SENTINEL_HEALTH_USER" ;;
    *) fail "usage: $0 check|prepare|start" ;;
  esac
}

# Sourced by the tests of its checks; run by the entry script.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
