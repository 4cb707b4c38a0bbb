#!/bin/bash
# Boot part "tls": fetches the node's key and certificate and the group's CA
# certificate from SSM into the TLS directory, then checks that the key is
# the certificate's and that the certificate chains to the CA and names this
# node's address: a mix-up fails the boot, not the first client.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/common.sh"
load_node_env
: "${TLS_DIR:?}" "${TLS_KEY_ID:?}" "${TLS_CERT_ID:?}" "${TLS_CA_ID:?}" "${TLS_NODE_ADDRESS:?}" "${SECRET_FETCH_STEP:?}"

# fetch NAME MODE ID: through a private temporary file, so a reader never sees half a key.
fetch() {
  local tmp
  tmp=$(mktemp "$TLS_DIR/.fetch.XXXXXX")
  fetch_secret ssm "$3" >"$tmp"
  chown redis:redis "$tmp"
  chmod "$2" "$tmp"
  mv -f "$tmp" "$TLS_DIR/$1"
}

prepare() {
  # fetch_secret, with its retries, from the secret-fetch part.
  # shellcheck source=/dev/null
  source "$SECRET_FETCH_STEP"
  install -d -m 0750 -o redis -g redis "$TLS_DIR"
  fetch node.key 0600 "$TLS_KEY_ID"
  fetch node.crt 0644 "$TLS_CERT_ID"
  fetch ca.crt 0644 "$TLS_CA_ID"
  [[ $(openssl pkey -in "$TLS_DIR/node.key" -pubout) == "$(openssl x509 -in "$TLS_DIR/node.crt" -noout -pubkey)" ]] ||
    fail "the key in $TLS_KEY_ID is not the key of the certificate in $TLS_CERT_ID"
  openssl verify -CAfile "$TLS_DIR/ca.crt" -verify_ip "$TLS_NODE_ADDRESS" "$TLS_DIR/node.crt" >/dev/null ||
    fail "the certificate in $TLS_CERT_ID is not valid for $TLS_NODE_ADDRESS under the CA in $TLS_CA_ID"
  log "TLS key and certificates for $TLS_NODE_ADDRESS in $TLS_DIR"
}

case ${1:-} in
  check) require_command openssl "$APT_HINT" ;;
  prepare) prepare ;;
  start) ;;
  *) fail "usage: $0 check|prepare|start" ;;
esac
