#!/bin/bash
# rotate-password: one step of the rotation of an ACL user's password, on
# this node. The group's SSM Command document runs it on every node of the
# group at once, with its Step and User parameters put in by SSM, after the
# operator has written the new password (and its SHA-256) into the user's
# parameter or secret. Each step is idempotent:
#   add     the user accepts the new password besides the old one
#   switch  this node logs in with the new one: replication (masterauth),
#           sentinel (auth-pass), sentinel-peer (sentinel-pass), and on data
#           nodes of dedicated sentinels sentinel-client (the role
#           decision's password file) and node-handover (the planned
#           failover's); the nodes never log in as the other users, whose
#           clients move instead
#   retire  the user accepts only the new password
# Nothing restarts and no connection is closed. The new value comes from the
# secret store in the form this node reads at boot (the password, or only its
# hash), into a private directory removed on exit; it is never printed and
# never on a command line: redis-cli gets passwords from REDISCLI_AUTH and
# values from stdin (-x). The script logs in to this node's redis-server and
# sentinel as node-ops, whose password only root on this node holds.
set -euo pipefail
# A failure inside $(...) fails the function that runs it, too.
shopt -s inherit_errexit

readonly LIB_DIR=${REDIS_NODE_LIB:-/usr/local/lib/redis-node}
# redis.sh reads the secrets from here: the new one only, removed on exit.
mkdir -p "${REDIS_NODE_RUN_DIR:-/run/redis-node}"
REDIS_NODE_SECRETS_DIR=$(mktemp -d "${REDIS_NODE_RUN_DIR:-/run/redis-node}/rotate.XXXXXX")
export REDIS_NODE_SECRETS_DIR
trap 'rm -rf "$REDIS_NODE_SECRETS_DIR"' EXIT
# shellcheck source=/dev/null
source "$LIB_DIR/redis.sh"
load_node_env
: "${SECRETS_LIST:?}" "${SECRET_FETCH_STEP:?}" "${NODE_OPS_PASSWORD_FILE:?}"
# fetch_secret, with its retries, from the boot's secret-fetch part.
# shellcheck source=/dev/null
source "$SECRET_FETCH_STEP"

log() { echo "rotate-password: $*"; }
fail() {
  echo "rotate-password: ERROR: $*" >&2
  logger -t redis-rotate-password "ERROR: $*" 2>/dev/null || true
  exit 1
}

readonly OPS_USER=node-ops
readonly CLI_TIMEOUT=${REDIS_NODE_CLI_TIMEOUT:-10}
# Where switch notes the hash it switched to: retire checks it.
readonly ROTATION_DIR=$STATE_DIR/rotation
TLS_ARGS=()
[[ -z ${TLS_DIR:-} ]] || TLS_ARGS=(--tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/node.crt" --key "$TLS_DIR/node.key")
OPS_PASSWORD=""

# cli HOST PORT USER PASSWORD ARG...: one redis-cli command, bounded in time.
cli() {
  local host=$1 port=$2 user=$3 password=$4
  shift 4
  REDISCLI_AUTH=$password timeout "$CLI_TIMEOUT" redis-cli "${TLS_ARGS[@]}" -h "$host" -p "$port" --user "$user" "$@"
}

# ops PORT ARG...: a command to this node's redis-server or sentinel, as node-ops.
ops() {
  local port=$1
  shift
  cli 127.0.0.1 "$port" "$OPS_USER" "$OPS_PASSWORD" "$@"
}

# ops_reply WHAT PORT ARG...: prints the reply; fails with WHAT when there is none.
ops_reply() {
  local what=$1 reply
  shift
  reply=$(ops "$@" 2>&1) || fail "$what: ${reply:-no reply on port $1 within $CLI_TIMEOUT s}"
  printf '%s\n' "$reply"
}

# ops_ok WHAT PORT ARG...: fails with WHAT unless the reply is OK. A value
# piped in is the command's last argument (-x), never a process argument.
ops_ok() {
  local what=$1 reply
  reply=$(ops_reply "$@")
  [[ $reply == OK ]] || fail "$what: $reply"
}

# Whether USER is an ACL user of the process on PORT.
acl_has_user() {
  local port=$1 user=$2 users
  # Called as a condition, where set -e is off.
  users=$(ops_reply "listing the ACL users on port $port" "$port" ACL USERS) || exit 1
  # User names have no spaces; an error reply does.
  [[ $users != *" "* ]] || fail "listing the ACL users on port $port: $users (was this node booted before password rotation, without the $OPS_USER user?)"
  grep -qxF -- "$user" <<<"$users"
}

# Prints "<port> <process>" for this node's redis-server and sentinel where USER is a user.
processes_with_user() {
  local user=$1
  if [[ -n ${REDIS_PORT:-} ]] && acl_has_user "$REDIS_PORT" "$user"; then echo "$REDIS_PORT redis-server"; fi
  if [[ -n ${SENTINEL_PORT:-} ]] && acl_has_user "$SENTINEL_PORT" "$user"; then echo "$SENTINEL_PORT sentinel"; fi
  return 0
}

# Fetches USER's new secret into the private directory, in the form this
# node reads it at boot (secrets.list): the password, or only its SHA-256.
fetch_new() {
  local user=$1 name form store id
  [[ ! -f $SECRETS_DIR/$user.password && ! -f $SECRETS_DIR/$user.sha256 ]] || return 0
  while read -r name form store id; do
    [[ $name == "$user" ]] || continue
    (umask 077 && fetch_secret "$store" "$id" >"$SECRETS_DIR/$user.$form")
    log "read the new $form of $user from $store"
    return 0
  done <"$SECRETS_LIST"
  fail "this node reads no secret of $user (see $SECRETS_LIST)"
}

# Sentinel writes auth-pass and sentinel-pass back unquoted (the boot's sentinel step checks the same).
require_rewritable() {
  local password
  password=$(secret_password "$1")
  [[ $password =~ ^[A-Za-z0-9._+=/-]+$ ]] ||
    fail "the new password of $1 has characters Sentinel cannot write back unquoted (space, quote, backslash, #...): use letters, digits and . _ + = / -"
}

# require_accepted WHERE HOST PORT USER PASSWORD [local]: fails when the
# process refuses USER's new password (add has not run there); a remote one
# that does not answer is only a warning, this node's own must answer.
require_accepted() {
  local where=$1 reply
  reply=$(cli "$2" "$3" "$4" "$5" PING 2>&1) || reply="no answer (${reply:-nothing within $CLI_TIMEOUT s})"
  if [[ $reply == PONG ]]; then
    log "$where accepts the new password of $4"
  elif [[ $reply == *WRONGPASS* ]]; then
    fail "$where does not accept the new password of $4: run the add step on every node first; nothing was switched"
  elif [[ ${6:-} == local ]]; then
    fail "cannot log in to $where as $4: $reply"
  else
    log "WARNING: cannot check the new password of $4 at $where: $reply"
  fi
}

# "ip port" of each instance in the flat output of SENTINEL REPLICAS / SENTINELS on stdin.
instance_addresses() {
  local -a lines
  local i ip=""
  mapfile -t lines
  for ((i = 0; i + 1 < ${#lines[@]}; i += 2)); do
    case ${lines[i]} in
      ip) ip=${lines[i + 1]} ;;
      port)
        [[ -z $ip ]] || printf '%s %s\n' "$ip" "${lines[i + 1]}"
        ip=""
        ;;
    esac
  done
}

# instances_of WHAT: "ip port" of each instance that SENTINEL WHAT (replicas, sentinels) lists.
instances_of() {
  local reply
  reply=$(ops_reply "SENTINEL $1" "$SENTINEL_PORT" SENTINEL "$1" "$SENTINEL_MASTER_NAME")
  [[ -z $reply || $reply == name* ]] || fail "SENTINEL $1: $reply"
  instance_addresses <<<"$reply"
}

# The data nodes this sentinel logs in to: the master and its replicas.
monitored_nodes() {
  local reply
  local -a lines
  reply=$(ops_reply "SENTINEL get-master-addr-by-name" "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$SENTINEL_MASTER_NAME")
  mapfile -t lines <<<"$reply"
  [[ ${#lines[@]} -eq 2 && ${lines[1]} =~ ^[0-9]+$ ]] || fail "SENTINEL get-master-addr-by-name: $reply"
  printf '%s %s\n' "${lines[0]}" "${lines[1]}"
  instances_of replicas
}

# The hashes of USER's passwords on the process on PORT, one a line.
password_hashes() {
  local port=$1 user=$2 reply line listing=0
  reply=$(ops_reply "ACL GETUSER $user on port $port" "$port" ACL GETUSER "$user")
  while IFS= read -r line; do
    if ((listing)); then
      [[ $line =~ ^[0-9a-f]{64}$ ]] || break
      echo "$line"
    elif [[ $line == passwords ]]; then
      listing=1
    fi
  done <<<"$reply"
}

# set_hash USER WHAT [resetpass]: ACL SETUSER USER [resetpass] #<new hash> on
# this node's redis-server and sentinel where USER is a user, saved to their
# files. Adding refuses a hash that is already the only one (the store still
# holds the current password); resetting refuses one not yet added.
set_hash() {
  local user=$1 what=$2 hash port process targets hashes
  shift 2
  targets=$(processes_with_user "$user")
  if [[ -z $targets ]]; then
    log "$user is not a user of this node's redis-server or sentinel: nothing to do"
    return 0
  fi
  fetch_new "$user"
  case $user in
    sentinel | sentinel-peer) [[ ! -f $SECRETS_DIR/$user.password ]] || require_rewritable "$user" ;;
  esac
  hash=$(secret_sha256 "$user")
  while read -r port process; do
    hashes=$(password_hashes "$port" "$user")
    if (($# == 0)) && [[ $hashes == "$hash" ]]; then
      fail "the secret store still holds the password $process accepts for $user: write the new password (and its SHA-256 into the -sha256 parameter, if it has one) first; nothing was added"
    fi
    if (($# > 0)) && ! grep -qxF -- "$hash" <<<"$hashes"; then
      fail "$process does not accept the new password of $user yet: run the add step on every node first; nothing was retired"
    fi
  done <<<"$targets"
  while read -r port process; do
    printf '#%s' "$hash" | ops_ok "ACL SETUSER $user on $process" "$port" -x ACL SETUSER "$user" "$@"
    if [[ $process == sentinel ]]; then
      # Sentinel keeps ACL changes in memory until it rewrites sentinel.conf.
      ops_ok "saving sentinel.conf" "$port" SENTINEL FLUSHCONFIG
      log "sentinel: $user $what (sentinel.conf saved)"
    else
      ops_ok "saving the ACL file" "$port" ACL SAVE
      log "redis-server: $user $what (ACL file saved)"
    fi
  done <<<"$targets"
}

step_add() {
  set_hash "$1" "accepts the new password besides the old one"
}

switch_replication() {
  local password=$1 role
  local -a lines
  require_accepted "this node's redis-server" 127.0.0.1 "$REDIS_PORT" replication "$password" local
  role=$(ops_reply "ROLE" "$REDIS_PORT" ROLE)
  mapfile -t lines <<<"$role"
  if [[ ${lines[0]} == slave ]]; then
    require_accepted "its master at ${lines[1]}:${lines[2]}" "${lines[1]}" "${lines[2]}" replication "$password"
  fi
  printf '%s' "$password" | ops_ok "CONFIG SET masterauth" "$REDIS_PORT" -x CONFIG SET masterauth
  ops_ok "CONFIG REWRITE" "$REDIS_PORT" CONFIG REWRITE
  log "redis-server: logs in to its master with the new password of replication from its next sync on; the current link stays up (redis.conf rewritten)"
}

switch_sentinel() {
  local password=$1 nodes ip port
  require_rewritable sentinel
  nodes=$(monitored_nodes)
  while read -r ip port; do
    require_accepted "redis-server at $ip:$port" "$ip" "$port" sentinel "$password"
  done <<<"$nodes"
  printf '%s' "$password" | ops_ok "SENTINEL SET auth-pass" "$SENTINEL_PORT" -x SENTINEL SET "$SENTINEL_MASTER_NAME" auth-pass
  ops_ok "saving sentinel.conf" "$SENTINEL_PORT" SENTINEL FLUSHCONFIG
  log "sentinel: logs in to the data nodes with the new password of sentinel (sentinel.conf saved)"
}

switch_sentinel_peer() {
  local password=$1 peers ip port
  require_rewritable sentinel-peer
  require_accepted "this node's sentinel" 127.0.0.1 "$SENTINEL_PORT" sentinel-peer "$password" local
  peers=$(instances_of sentinels)
  while read -r ip port; do
    [[ -z $ip ]] || require_accepted "the sentinel at $ip:$port" "$ip" "$port" sentinel-peer "$password"
  done <<<"$peers"
  printf '%s' "$password" | ops_ok "SENTINEL CONFIG SET sentinel-pass" "$SENTINEL_PORT" -x SENTINEL CONFIG SET sentinel-pass
  ops_ok "saving sentinel.conf" "$SENTINEL_PORT" SENTINEL FLUSHCONFIG
  log "sentinel: logs in to the other sentinels with the new password of sentinel-peer (sentinel.conf saved)"
}

# A data node of dedicated sentinels logs in to them with a user of its own:
# sentinel-client before every start of redis-server (the role decision),
# node-handover before a stop (the planned failover).
# switch_sentinel_login USER FILE WHO PASSWORD: once every sentinel takes
# USER's new PASSWORD, WHO's password file FILE gets it.
switch_sentinel_login() {
  local user=$1 file=$2 who=$3 password=$4 address
  for address in $ROLE_SENTINELS; do
    require_accepted "the sentinel at $address:$ROLE_SENTINEL_PORT" "$address" "$ROLE_SENTINEL_PORT" "$user" "$password"
  done
  keep_password "$user" "$file"
  log "$who: asks the sentinels with the new password of $user ($file)"
}

# The node's metrics exporter logs in as monitor: its password file gets the
# new password (through the metrics step's own function, from the private
# directory), and a restart hands it to the exporter (systemd copies the
# file at each start). Metrics pause for the restart, a second or two.
switch_monitor() {
  local password=$1
  [[ -z ${REDIS_PORT:-} ]] || require_accepted "this node's redis-server" 127.0.0.1 "$REDIS_PORT" monitor "$password" local
  [[ -z ${SENTINEL_PORT:-} ]] || require_accepted "this node's sentinel" 127.0.0.1 "$SENTINEL_PORT" monitor "$password" local
  # write_exporter_passwords, from the boot's metrics part.
  # shellcheck source=/dev/null
  source "$METRICS_STEP"
  write_exporter_passwords "$EXPORTER_PASSWORDS"
  systemctl restart prometheus-redis-exporter.service || fail "restarting the exporter with the new password of monitor failed (journalctl -u prometheus-redis-exporter)"
  log "exporter: logs in with the new password of monitor (restarted)"
}

# Whether this node logs in as USER (and so has something to switch).
switches_here() {
  case $1 in
    replication) [[ -n ${REDIS_PORT:-} ]] ;;
    sentinel | sentinel-peer) [[ -n ${SENTINEL_PORT:-} ]] ;;
    monitor) [[ -n ${EXPORTER_PASSWORDS:-} ]] ;;
    sentinel-client) [[ ${ROLE_USER:-} == sentinel-client ]] ;;
    node-handover) [[ ${HANDOVER_USER:-} == node-handover ]] ;;
    *) return 1 ;;
  esac
}

step_switch() {
  local user=$1 password
  case $user in
    replication | sentinel | sentinel-peer | monitor | sentinel-client | node-handover) ;;
    *)
      log "the nodes never log in as $user: its clients move to the new password (after add, before retire); nothing to do on the nodes"
      return 0
      ;;
  esac
  if ! switches_here "$user"; then
    log "this node does not log in as $user: nothing to do"
    return 0
  fi
  fetch_new "$user"
  password=$(secret_password "$user")
  case $user in
    replication) switch_replication "$password" ;;
    sentinel) switch_sentinel "$password" ;;
    sentinel-peer) switch_sentinel_peer "$password" ;;
    monitor) switch_monitor "$password" ;;
    sentinel-client) switch_sentinel_login sentinel-client "${ROLE_PASSWORD_FILE:?}" "role decision" "$password" ;;
    node-handover) switch_sentinel_login node-handover "${HANDOVER_PASSWORD_FILE:?}" "planned failover" "$password" ;;
  esac
  mkdir -p "$ROTATION_DIR"
  (umask 077 && secret_sha256 "$user" >"$ROTATION_DIR/$user.switched")
}

step_retire() {
  local user=$1 hash
  if switches_here "$user"; then
    fetch_new "$user"
    hash=$(secret_sha256 "$user")
    [[ -f $ROTATION_DIR/$user.switched && $(<"$ROTATION_DIR/$user.switched") == "$hash" ]] ||
      fail "this node still logs in as $user with the old password: run the switch step on every node first; nothing was retired"
  fi
  set_hash "$user" "accepts only the new password; connections opened with the old one stay open" resetpass
}

main() {
  local step=$1 user=$2
  [[ $user =~ ^[A-Za-z0-9_-]+$ ]] || fail "'$user' is not a user name"
  [[ $user != "$OPS_USER" && $user != default ]] || fail "$user has no password in the secret store: nothing to rotate"
  [[ -r $NODE_OPS_PASSWORD_FILE ]] ||
    fail "cannot read $NODE_OPS_PASSWORD_FILE: run as root (a node booted before password rotation has no $OPS_USER user: replace it first)"
  OPS_PASSWORD=$(<"$NODE_OPS_PASSWORD_FILE")
  case $step in
    add) step_add "$user" ;;
    switch) step_switch "$user" ;;
    retire) step_retire "$user" ;;
    *) fail "'$step' is not a step: add, switch or retire" ;;
  esac
}

# SSM Run Command puts the document's parameters in (their patterns allow no quote).
main '{{ Step }}' '{{ User }}'
