#!/bin/bash
# shellcheck disable=SC2034 # the constants are for the files that source this one
# common.sh: paths, logging and settings shared by the boot entry script,
# the boot library and every boot part. Sourced, never run. It travels in
# the user data (the entry script needs it before the library is there), so
# it stays small: Redis helpers are in the library's redis.sh. Paths can be
# pointed elsewhere only by the tests of the boot scripts.

# A part that sources another part's step (tls: secret-fetch) gets it twice.
[[ -z ${REDIS_NODE_COMMON:-} ]] || return 0
readonly REDIS_NODE_COMMON=1
readonly NODE_ENV=${REDIS_NODE_ENV:-/etc/redis-node/node.env}
readonly TEMPLATE_DIR=${REDIS_NODE_TEMPLATE_DIR:-/etc/redis-node}
readonly STATE_DIR=${REDIS_NODE_STATE_DIR:-/var/lib/redis-node}
readonly RUN_DIR=${REDIS_NODE_RUN_DIR:-/run/redis-node}
# Present once the first boot finished: configs are never rendered again,
# because Redis and Sentinel rewrite their own files after a failover.
readonly DONE_MARKER=$STATE_DIR/setup-done
# Written by the secret-fetch part (<user>.password, <user>.sha256),
# removed by the entry script on exit.
readonly SECRETS_DIR=${REDIS_NODE_SECRETS_DIR:-$RUN_DIR/secrets}

log() { echo "redis-node-setup: $*" >&2; }
fail() {
  echo "redis-node-setup: ERROR: $*" >&2
  logger -t redis-node-setup "ERROR: $*" 2>/dev/null || true
  exit 1
}

# Every part reads the settings that the parts of this node contributed.
load_node_env() {
  # shellcheck source=/dev/null
  source "$NODE_ENV"
}

require_command() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed; $2"
}

readonly APT_HINT="apt could not install it: does the subnet have a route to a package mirror (NAT gateway)?"
