#!/bin/bash
# redis.sh: helpers of the parts that configure and start Redis and
# Sentinel (version check, secrets in configs, start and wait). Part of the
# boot library, which the node fetches at boot. Sourced, never run.

# A script that sources two steps (node-restart.sh) gets it twice.
[[ -z ${REDIS_NODE_REDIS_HELPERS:-} ]] || return 0
readonly REDIS_NODE_REDIS_HELPERS=1
# shellcheck source=/dev/null
source "${BASH_SOURCE[0]%/*}/common.sh"

# The node's redis.conf (the tests point it at their own).
readonly REDIS_CONF=${REDIS_NODE_REDIS_CONF:-/etc/redis/redis.conf}

# Fails unless the installed binary reports a version >= the minimum major.
check_redis_version() {
  local binary=$1 minimum=$2 text version major
  text=$("$binary" --version) || fail "$binary --version failed"
  version=$(sed -n 's/.* v=\([0-9][0-9.]*\).*/\1/p' <<<"$text")
  [[ -n $version ]] || fail "cannot read the version from: $text"
  major=${version%%.*}
  if ((major < minimum)); then
    fail "$binary is version $version; this node needs Redis >= $minimum.0 (Ubuntu 24.04 and Debian 12 ship 7.0; Ubuntu 22.04 ships 6.0)"
  fi
  log "$binary version $version"
}

# conf_setting FILE KEY: the value of the line `KEY VALUE` of a config FILE
# (redis.conf, sentinel.conf), without the quotes around it (the renderer's,
# or CONFIG REWRITE's); empty when there is none.
conf_setting() {
  local value
  value=$(sed -n "s/^$2 //p" "$1" | head -n 1)
  value=${value#\"}
  printf '%s' "${value%\"}"
}

# replication_login: REPLICATION_USER and REPLICATION_PASSWORD from
# redis.conf's masteruser and masterauth, the login every data node
# replicates with (password rotation keeps them current); both empty when
# there is no masterauth (or redis.conf cannot be read).
replication_login() {
  REPLICATION_USER="" REPLICATION_PASSWORD=""
  [[ -r $REDIS_CONF ]] || return 0
  REPLICATION_PASSWORD=$(conf_setting "$REDIS_CONF" masterauth)
  # shellcheck disable=SC2034 # for the caller
  [[ -z $REPLICATION_PASSWORD ]] || REPLICATION_USER=$(conf_setting "$REDIS_CONF" masteruser)
}

# sentinel_conf_setting FILE KEY: the value of the line `sentinel KEY VALUE`
# of sentinel.conf FILE.
sentinel_conf_setting() { conf_setting "$1" "sentinel $2"; }

# field NAME: the value after the line NAME in a flat key/value reply on stdin
# (SENTINEL MASTER as redis-cli prints it to a pipe).
field() {
  awk -v k="$1" 'NR % 2 == 1 && $0 == k { getline; print; exit }'
}

# While the planned failover has the local sentinel's failover-timeout at
# 1 ms (it ends the sentinel's failover at once, then puts the value back),
# "<master name> <ms>": the value to put back. Root only. A step killed in
# between (SIGKILL, OOM) leaves it, and the sentinel keeps 1 ms (saved in
# sentinel.conf): every failover it led would end at once, failed. The
# next run on the node (the step, the role decision at every start of
# redis-server) puts the value back.
FAILOVER_TIMEOUT_PENDING=$STATE_DIR/failover-timeout.pending

# record_failover_timeout MASTER MS: writes the file above (whole or not at all).
record_failover_timeout() {
  local tmp
  mkdir -p "$STATE_DIR" || return 1
  tmp=$(umask 077 && mktemp "$FAILOVER_TIMEOUT_PENDING.XXXXXX") || return 1
  if ! { printf '%s %s\n' "$1" "$2" >"$tmp" && mv -f "$tmp" "$FAILOVER_TIMEOUT_PENDING"; }; then
    rm -f "$tmp"
    return 1
  fi
}

# restore_failover_timeout_left ASK: when the file above is there and this
# node's sentinel still has failover-timeout 1 ms, puts the recorded value
# back (SENTINEL SET); then removes the file. ASK is a command that sends its
# arguments to this node's sentinel as node-ops, bounded in time. A value
# other than 1 ms was set since (an operator): left alone. Never fails: a
# sentinel that does not answer keeps the file for the next run, and says so.
restore_failover_timeout_left() {
  local ask=$1 line="" name="" value="" state current reply
  [[ -f $FAILOVER_TIMEOUT_PENDING ]] || return 0
  line=$(<"$FAILOVER_TIMEOUT_PENDING") || true
  read -r name value _ <<<"$line" || true
  if [[ -z $name || ! $value =~ ^[0-9]+$ ]] || ((value <= 1)); then
    log "WARNING: $FAILOVER_TIMEOUT_PENDING holds no master name and failover-timeout ('$line'): removed; check failover-timeout in SENTINEL MASTER on this node's sentinel"
    rm -f "$FAILOVER_TIMEOUT_PENDING"
    return 0
  fi
  state=$("$ask" SENTINEL MASTER "$name") || true
  current=$(field failover-timeout <<<"$state") || true
  if [[ $state == *"No such master"* ]]; then
    log "failover-timeout: this node's sentinel no longer monitors $name: nothing to put back"
  elif [[ $current == "$value" ]]; then
    log "failover-timeout of $name is $value ms: nothing to put back"
  elif [[ $current =~ ^[0-9]+$ ]] && ((current != 1)); then
    log "failover-timeout of $name is $current ms, set since the planned failover shortened it: left alone (it was $value ms)"
  elif [[ $current == 1 ]]; then
    reply=$("$ask" SENTINEL SET "$name" failover-timeout "$value") || true
    if [[ $reply != OK ]]; then
      log "WARNING: this node's sentinel still has failover-timeout 1 ms for $name (a planned failover was stopped before it put $value ms back), and SENTINEL SET failed: ${reply:-no reply}; kept $FAILOVER_TIMEOUT_PENDING for the next run (as admin: SENTINEL SET $name failover-timeout $value)"
      return 0
    fi
    log "failover-timeout of $name put back to $value ms: a planned failover was stopped before it could (the sentinel had 1 ms)"
  else
    log "WARNING: this node's sentinel did not answer SENTINEL MASTER $name (${state:-no reply}): cannot check that failover-timeout is $value ms again; kept $FAILOVER_TIMEOUT_PENDING for the next run"
    return 0
  fi
  rm -f "$FAILOVER_TIMEOUT_PENDING"
}

# A user's password from the secrets directory; refuses what configs cannot hold.
secret_password() {
  local file="$SECRETS_DIR/$1.password" password
  [[ -f $file ]] || fail "no password of user $1 was read at boot"
  password=$(<"$file")
  [[ -n $password ]] || fail "the password of user $1 is empty"
  if [[ $password == *[[:cntrl:]]* ]]; then
    fail "the password of user $1 contains control characters (newline, tab, ...); store one without them"
  fi
  printf '%s' "$password"
}

# keep_password USER FILE: USER's password, from the secrets the boot
# fetched, into FILE (root only, whole or not at all): a login that outlives
# the boot's secrets (the role decision's, the planned failover's).
keep_password() {
  local password tmp
  password=$(secret_password "$1") || exit 1
  tmp=$(umask 077 && mktemp "$2.XXXXXX")
  printf '%s' "$password" >"$tmp"
  mv -f "$tmp" "$2"
}

# A user's password hash: read at boot, or made from the password.
secret_sha256() {
  local file="$SECRETS_DIR/$1.sha256" hash
  if [[ -f $file ]]; then
    hash=$(<"$file")
  else
    hash=$(secret_password "$1" | sha256sum) || exit 1
    hash=${hash%% *}
  fi
  [[ $hash =~ ^[0-9a-f]{64}$ ]] || fail "the SHA-256 of user $1's password is not 64 lowercase hex digits"
  printf '%s' "$hash"
}

# The users named by the KIND (SHA256, PASSWORD) placeholders of a file, once each.
placeholder_users() {
  grep -oE "@@$1:[A-Za-z0-9_-]+@@" "$2" | sed -E "s/^@@$1:(.*)@@\$/\\1/" | sort -u || true
}

# render_template TEMPLATE DEST
# Writes TEMPLATE to DEST with each @@SHA256:<user>@@ replaced by the hash
# and each @@PASSWORD:<user>@@ by the password, escaped for the
# double-quoted string the renderer put it in. Placeholders are found once
# in the template, so a secret that looks like one is left alone.
render_template() {
  local template=$1 dest=$2 content user value
  local -a hashed with_password
  content=$(<"$template")
  mapfile -t hashed < <(placeholder_users SHA256 "$template")
  mapfile -t with_password < <(placeholder_users PASSWORD "$template")
  for user in "${hashed[@]}"; do
    value=$(secret_sha256 "$user") || exit 1
    content=${content//"@@SHA256:$user@@"/"$value"}
  done
  for user in "${with_password[@]}"; do
    value=$(secret_password "$user") || exit 1
    value=${value//\\/\\\\}
    value=${value//\"/\\\"}
    content=${content//"@@PASSWORD:$user@@"/"$value"}
  done
  (umask 077 && printf '%s\n' "$content" >"$dest")
}

# Renders /etc/redis/NAME from its template, once per node.
install_config() {
  local name=$1
  local dest="/etc/redis/$name"
  if [[ -f $DONE_MARKER ]]; then
    log "keeping $dest: setup already ran on this node"
    return 0
  fi
  render_template "$TEMPLATE_DIR/$name.template" "$dest"
  chown redis:redis "$dest"
  chmod 0640 "$dest"
}

# Waits (bounded) until redis-cli PING on the port, as USER, answers PONG.
# With TLS (the tls part sets TLS_DIR) over TLS, with the node's certificate
# as client certificate, so it works where the node requires one too;
# redis-cli checks the chain, not the address, so 127.0.0.1 is fine.
wait_for_pong() {
  local port=$1 user=$2 attempt
  local -a tls=()
  [[ -z ${TLS_DIR:-} ]] || tls=(--tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/node.crt" --key "$TLS_DIR/node.key")
  for attempt in $(seq 1 30); do
    if [[ $(redis-cli "${tls[@]}" -h 127.0.0.1 -p "$port" --user "$user" --no-auth-warning ping 2>/dev/null) == PONG ]]; then
      log "port $port answers PING (attempt $attempt)"
      return 0
    fi
    sleep 1
  done
  return 1
}

# enable_units UNIT...: unmasks and enables units without reloading systemd:
# the boot reloads it once, after every part's prepare step, before the start
# steps (each reload re-runs every generator and re-reads every unit).
# SYSTEMCTL_SKIP_SYSV: the packages' init scripts are not synced (Debian's
# update-rc.d reloads systemd twice per unit; systemd runs the native units,
# never those scripts).
enable_units() {
  SYSTEMCTL_SKIP_SYSV=1 systemctl unmask --no-reload "$@"
  SYSTEMCTL_SKIP_SYSV=1 systemctl enable --no-reload "$@"
}

# start_service UNIT PORT LOG USER: starts the unit and waits until USER's PING is answered.
start_service() {
  local unit=$1 port=$2 log_file=$3 user=$4
  # Unmasked and enabled by the part's prepare step (enable_units); systemd reloaded since.
  # A start refused before Redis runs (the role decision) says why in the unit's journal.
  if ! systemctl restart "$unit"; then
    journalctl -u "$unit" -n 15 --no-pager >&2 || true
    fail "$unit did not start"
  fi
  if ! REDISCLI_AUTH=$(secret_password "$user") wait_for_pong "$port" "$user"; then
    tail -n 30 "$log_file" >&2 || true
    fail "$unit does not answer on port $port after 30 s"
  fi
}
