#!/bin/bash
# Boot part "metrics": the Prometheus redis exporter (Debian's package) on
# the node's address, logged in as the monitor user. Its password goes from
# the secret-fetch step's file into a root-only JSON file (the exporter's
# password file: target URL -> password), which systemd copies for the
# exporter alone at each start (LoadCredential in the unit's drop-in). The
# CloudWatch agent that scrapes it is installed and configured by SSM.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/redis.sh"

# write_exporter_passwords FILE: {"<target>": "<monitor password>", ...} for
# each of EXPORTER_TARGETS, written whole (0600, root's) or not at all.
write_exporter_passwords() {
  local file=$1 tmp
  local -a targets
  read -ra targets <<<"$EXPORTER_TARGETS"
  [[ -s $SECRETS_DIR/monitor.password ]] || fail "the monitor user's password was not fetched"
  tmp=$(umask 077 && mktemp "$file.XXXXXX")
  # The password goes through a file, never a command line.
  if ! python3 -c 'import json, sys
password = open(sys.argv[1], encoding="utf-8").read()
json.dump({target: password for target in sys.argv[2:]}, sys.stdout)' "$SECRETS_DIR/monitor.password" "${targets[@]}" >"$tmp"; then
    rm -f "$tmp"
    fail "could not write $file"
  fi
  mv -f "$tmp" "$file"
}

# wait_for_metrics URL: up to 30 s for the exporter to serve redis_up 1.
wait_for_metrics() {
  local url=$1 body
  for _ in $(seq 30); do
    body=$(curl -fsS --max-time 5 "$url" 2>/dev/null) || body=""
    [[ $body == *$'\n'"redis_up 1"* ]] && return 0
    sleep 1
  done
  return 1
}

main() {
  case ${1:-} in
    check)
      require_command prometheus-redis-exporter "$APT_HINT"
      require_command python3 "$APT_HINT"
      ;;
    prepare)
      load_node_env
      : "${EXPORTER_TARGETS:?}" "${EXPORTER_PASSWORDS:?}"
      systemctl stop prometheus-redis-exporter.service 2>/dev/null || true
      write_exporter_passwords "$EXPORTER_PASSWORDS"
      enable_units prometheus-redis-exporter.service
      ;;
    start)
      load_node_env
      : "${EXPORTER_URL:?}"
      systemctl restart prometheus-redis-exporter.service
      # Metrics are not worth a failed boot: Redis and Sentinel are up by now.
      wait_for_metrics "$EXPORTER_URL" || log "WARNING: the exporter does not serve redis_up 1 at $EXPORTER_URL after 30 s (journalctl -u prometheus-redis-exporter)"
      ;;
    *) fail "usage: $0 check|prepare|start" ;;
  esac
}

# Sourced by the tests of write_exporter_passwords; run by the entry script.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
