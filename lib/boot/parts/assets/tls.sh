#!/bin/bash
# Boot part "tls": fetches the node's key and certificate and the group's CA
# certificates from SSM into the TLS directory, after checking that the key
# is the certificate's and that the certificate chains to the CA file and
# names this node's address: a mix-up fails the boot, not the first client.
# "renew" (run by the redis-tls-renew timer) fetches them again and, when
# they changed and pass the same checks, replaces the files and makes the
# running processes use them: redis-server re-reads them on CONFIG SET
# tls-cert-file (no restart, connections stay open); Sentinel 7 cannot
# reload them at runtime, so the local sentinel restarts. Any failure leaves
# the previous files in place.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/redis.sh"
load_node_env
: "${TLS_DIR:?}" "${TLS_KEY_ID:?}" "${TLS_CERT_ID:?}" "${TLS_CA_ID:?}" "${TLS_NODE_ADDRESS:?}" "${SECRET_FETCH_STEP:?}"
readonly FILES="node.key node.crt ca.crt"

# fetch_into DIR: the three files as the store holds them, owned and
# moded as they are served (a private temporary directory under TLS_DIR,
# so that moving them into place is atomic).
fetch_into() {
  # fetch_secret, with its retries, from the secret-fetch part.
  # shellcheck source=/dev/null
  source "$SECRET_FETCH_STEP"
  fetch_secret ssm "$TLS_KEY_ID" >"$1/node.key"
  fetch_secret ssm "$TLS_CERT_ID" >"$1/node.crt"
  fetch_secret ssm "$TLS_CA_ID" >"$1/ca.crt"
  chown redis:redis "$1"/*
  chmod 0600 "$1/node.key"
  chmod 0644 "$1/node.crt" "$1/ca.crt"
}

# check DIR: the key is the certificate's, which chains to a CA of the CA
# file, names this node's address and is valid now.
check() {
  [[ $(openssl pkey -in "$1/node.key" -pubout) == "$(openssl x509 -in "$1/node.crt" -noout -pubkey)" ]] ||
    fail "the key in $TLS_KEY_ID is not the key of the certificate in $TLS_CERT_ID"
  openssl verify -CAfile "$1/ca.crt" -verify_ip "$TLS_NODE_ADDRESS" "$1/node.crt" >/dev/null ||
    fail "the certificate in $TLS_CERT_ID is not valid for $TLS_NODE_ADDRESS under the CA in $TLS_CA_ID"
}

# install_from DIR: each file moved into place atomically (a reader never sees half a key).
install_from() {
  local f
  for f in $FILES; do
    cp -p "$1/$f" "$TLS_DIR/.$f.new"
    mv -f "$TLS_DIR/.$f.new" "$TLS_DIR/$f"
  done
}

STAGE=""
stage() {
  install -d -m 0750 -o redis -g redis "$TLS_DIR"
  STAGE=$(mktemp -d "$TLS_DIR/.stage.XXXXXX")
  trap 'rm -rf "$STAGE"' EXIT
  mkdir "$STAGE/new" "$STAGE/old"
  fetch_into "$STAGE/new"
}

prepare() {
  stage
  check "$STAGE/new"
  install_from "$STAGE/new"
  log "TLS key and certificates for $TLS_NODE_ADDRESS in $TLS_DIR"
}

# Runs redis-cli as node-ops on this node's PORT, presenting the TLS files
# in DIR (those the process trusts at that moment); bounded in time.
ops_cli() {
  local dir=$1 port=$2
  shift 2
  REDISCLI_AUTH=$(<"$NODE_OPS_PASSWORD_FILE") timeout 10 redis-cli --tls --cacert "$dir/ca.crt" --cert "$dir/node.crt" \
    --key "$dir/node.key" -h 127.0.0.1 -p "$port" --user node-ops --no-auth-warning "$@" 2>&1
}

# reload_redis DIR: redis-server re-reads the files in TLS_DIR (CONFIG SET
# of a TLS file reloads them all, also under the same name); DIR holds those
# it trusts until then, to log in with.
reload_redis() {
  local reply
  reply=$(ops_cli "$1" "$REDIS_PORT" CONFIG SET tls-cert-file "$TLS_DIR/node.crt" tls-key-file "$TLS_DIR/node.key" tls-ca-cert-file "$TLS_DIR/ca.crt") || true
  [[ $reply == OK ]] || { log "redis-server did not reload its TLS files: ${reply:-no reply within 10 s}"; return 1; }
}

restart_sentinel() {
  if ! timeout 90 systemctl restart redis-sentinel.service || ! REDISCLI_AUTH=$(<"$NODE_OPS_PASSWORD_FILE") wait_for_pong "$SENTINEL_PORT" node-ops; then
    log "redis-sentinel does not answer after its restart"
    return 1
  fi
}

# The running processes take up the files now in TLS_DIR. On a failure the
# previous files go back, and what already took up the new ones goes back too.
use_new_files() {
  if [[ -n ${REDIS_PORT:-} ]] && systemctl is-active --quiet redis-server.service; then
    reload_redis "$STAGE/old" || { install_from "$STAGE/old"; return 1; }
    log "redis-server reloaded its TLS files (CONFIG SET, no restart)"
    REDIS_RELOADED=1
  fi
  if [[ -n ${SENTINEL_PORT:-} ]] && systemctl is-active --quiet redis-sentinel.service; then
    if ! restart_sentinel; then
      install_from "$STAGE/old"
      [[ -z ${REDIS_RELOADED:-} ]] || reload_redis "$STAGE/new" || true
      restart_sentinel || true
      return 1
    fi
    log "redis-sentinel restarted with the new TLS files (Sentinel cannot reload them at runtime)"
  fi
}

renew() {
  log() { echo "tls-renew: $*" >&2; }
  fail() {
    echo "tls-renew: ERROR: $*" >&2
    logger -t redis-tls-renew "ERROR: $*" 2>/dev/null || true
    exit 1
  }
  [[ -f $DONE_MARKER ]] || { log "this node's setup has not finished: nothing to renew"; return 0; }
  : "${NODE_OPS_PASSWORD_FILE:?}"
  stage
  local f changed=""
  # A certificate of a CA that this node does not trust yet waits until the
  # CA file that adds it has been served for a run (CA rollover, README).
  if ! cmp -s "$STAGE/new/ca.crt" "$TLS_DIR/ca.crt" && ! openssl verify -CAfile "$TLS_DIR/ca.crt" "$STAGE/new/node.crt" >/dev/null 2>&1; then
    log "WARNING: the new certificate's CA is not in the current CA file: installing the new CA file only, the certificate at a later run"
    cp -p "$TLS_DIR/node.key" "$TLS_DIR/node.crt" "$STAGE/new/"
  fi
  for f in $FILES; do cmp -s "$STAGE/new/$f" "$TLS_DIR/$f" || changed+=" $f"; done
  [[ -n $changed ]] || { log "key and certificates unchanged"; return 0; }
  (check "$STAGE/new") || fail "the new files were refused; the current ones stay in place"
  for f in $FILES; do cp -p "$TLS_DIR/$f" "$STAGE/old/$f"; done
  install_from "$STAGE/new"
  log "installed$changed in $TLS_DIR: certificate $(openssl x509 -in "$TLS_DIR/node.crt" -noout -serial -enddate | tr '\n' ' ')"
  use_new_files || fail "the processes did not take up the new files; the previous ones are back in place"
}

case ${1:-} in
  check) require_command openssl "$APT_HINT" ;;
  prepare) prepare ;;
  start) systemctl enable --no-reload --now redis-tls-renew.timer ;;
  renew) renew ;;
  *) fail "usage: $0 check|prepare|start|renew" ;;
esac
