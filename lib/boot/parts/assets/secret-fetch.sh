#!/bin/bash
# Boot part "secret-fetch": reads the node's secrets (users' passwords, or
# their SHA-256) from SSM Parameter Store or Secrets Manager with the instance
# role (aws.sh) into private files under /run that the entry script removes
# when the boot ends.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/aws.sh"

# Fetches every secret of the list: lines "<user> <form> <store> <id>".
fetch_all() {
  local list=$1 user form store id count=0
  mkdir -p "$SECRETS_DIR"
  chmod 0700 "$SECRETS_DIR"
  # One read of the role's credentials for every secret (each is read in a
  # subshell); a failure here is retried, and logged, by each read.
  aws_credentials || true
  while read -r user form store id; do
    [[ -n $user ]] || continue
    [[ $user =~ ^[A-Za-z0-9_-]+$ && $form =~ ^(password|sha256)$ ]] || fail "bad line in $list: $user $form"
    (umask 077 && fetch_secret "$store" "$id" >"$SECRETS_DIR/$user.$form")
    count=$((count + 1))
  done <"$list"
  log "read $count secrets"
}

# The node-ops user's password (password rotation logs in with it): made on
# the node at its first boot, kept root-only, never sent anywhere. The
# configs get its hash like any user's.
node_ops_password() {
  local file=$1 tmp
  if [[ ! -s $file ]]; then
    tmp=$(mktemp "$file.XXXXXX")
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$tmp"
    mv -f "$tmp" "$file"
  fi
  cp "$file" "$SECRETS_DIR/node-ops.password"
}

main() {
  case ${1:-} in
    check)
      require_command curl "$APT_HINT"
      require_command python3 "$APT_HINT"
      ;;
    prepare)
      load_node_env
      : "${SECRETS_LIST:?}" "${NODE_OPS_PASSWORD_FILE:?}"
      fetch_all "$SECRETS_LIST"
      node_ops_password "$NODE_OPS_PASSWORD_FILE"
      ;;
    start) ;;
    *) fail "usage: $0 check|prepare|start" ;;
  esac
}

# Sourced by the tests of fetch_secret; run by the entry script.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
