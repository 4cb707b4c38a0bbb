#!/bin/bash
# Boot part "redis-role": the role redis-server starts in, decided before
# every start from what the other nodes' sentinels say, never from the user
# data alone. systemd runs `redis-role.sh decide` as redis-server's
# ExecStartPre (a drop-in), so it holds at the first boot, after a crash, a
# reboot and on a replaced node. It writes `replicaof` into redis.conf, or
# takes it out, before Redis starts: Redis never runs, not even for a
# moment, as a writable master the sentinels would not give the role to.
#
# - Another address is the master for the sentinels (the newest view: the
#   highest config epoch): start as its replica.
# - This node's address is the master for them: start as master when the
#   node holds data (a restart quicker than Sentinel's failure detection) or
#   when they know no replica of it (the group's first start). An empty node
#   whose replicas may hold data (a replaced master) waits, a bounded time,
#   for the sentinels to promote one, then starts as its replica; never as
#   an empty master that its replicas would follow and flush.
# - No sentinel knows the master: the planned master starts as master, a
#   replica as its redis.conf says.
# - No sentinel answers (the group's first boot, before any sentinel runs):
#   after ROLE_ASK_SECONDS a node follows its redis.conf, except an empty
#   node configured as master, which waits ROLE_WAIT_SECONDS and then starts
#   as master only when it is the planned one.
# The login: on a node with its own sentinel, sentinel-peer with the password
# of its sentinel.conf (rotation keeps it current); on a data node of
# dedicated sentinels, ROLE_USER (sentinel-client: SENTINEL MASTER is a
# discovery command) with the password the boot copied to ROLE_PASSWORD_FILE.
# First, when a planned failover was stopped while this node's sentinel had
# failover-timeout 1 ms (its state file says so), the value is put back.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/redis.sh"

readonly ROLE_SENTINEL_CONF=${REDIS_NODE_SENTINEL_CONF:-/etc/redis/sentinel.conf}
readonly ROLE_DATA_DIR=${REDIS_NODE_DATA_DIR:-/var/lib/redis}
# The last decision, one line, for the boot's log and for operators.
readonly ROLE_DECISION_FILE=$STATE_DIR/role-decision
# Seconds one sentinel may take to answer (a dead address never does).
readonly ROLE_ASK_TIMEOUT=3

say() { log "role: $*"; }

# What the sentinels see, as set by ask_sentinels.
VIEW_IP="" VIEW_PORT="" VIEW_EPOCH=-1 VIEW_REPLICAS=0 ANSWERS=0 UNKNOWN=0 REFUSED=0
# Whether this round of a wait logs (the first, then one every 5 s).
LOUD=true

# role_cli ADDRESS USER PASSWORD ARG...: one command to the sentinel at
# ADDRESS, bounded, over TLS with the node's certificate when TLS is on.
role_cli() {
  local address=$1 user=$2 password=$3
  local -a tls=()
  shift 3
  [[ -z $TLS ]] || tls=(--tls --cacert "$TLS/ca.crt" --cert "$TLS/node.crt" --key "$TLS/node.key")
  REDISCLI_AUTH=$password timeout "$ROLE_ASK_TIMEOUT" redis-cli "${tls[@]}" -h "$address" -p "$ROLE_SENTINEL_PORT" --user "$user" --no-auth-warning "$@" 2>&1
}

# This node's sentinel, as node-ops (the planned failover's login, which may
# SENTINEL SET; only root holds its password): read only when a planned
# failover left failover-timeout to put back.
local_sentinel() {
  local password
  password=$(cat "${NODE_OPS_PASSWORD_FILE:-}" 2>/dev/null) || {
    echo "cannot read the node-ops password (${NODE_OPS_PASSWORD_FILE:-node.env names no NODE_OPS_PASSWORD_FILE})"
    return 1
  }
  role_cli 127.0.0.1 node-ops "$password" "$@"
}

# One sentinel's view of the master: "ip port config-epoch num-slaves flags";
# "unknown" when it monitors no master of that name, "refused" when it
# answers with an error (a sentinel made before sentinel-peer could send
# SENTINEL MASTER, a wrong password); fails when it does not answer.
sentinel_view() {
  local address=$1 out
  out=$(role_cli "$address" "$PEER_USER" "$PEER_PASSWORD" SENTINEL MASTER "$ROLE_MASTER_NAME") || true
  if [[ $out == *"No such master"* ]]; then
    echo unknown
    return 0
  fi
  # A refused login: redis-cli says "AUTH failed: WRONGPASS ...", then the command's NOAUTH.
  if [[ $out =~ ^(AUTH\ failed:\ )?(NOPERM|WRONGPASS|NOAUTH|ERR) ]]; then
    [[ $LOUD == false ]] || say "the sentinel at $address:$ROLE_SENTINEL_PORT refuses: $(head -n 1 <<<"$out")"
    echo refused
    return 0
  fi
  awk 'NR % 2 == 1 { key = $0; next } { value[key] = $0 }
    END { if (!("ip" in value)) exit 1; print value["ip"], value["port"], value["config-epoch"], value["num-slaves"], value["flags"] }' <<<"$out" || {
    [[ $LOUD == false ]] || say "no answer from the sentinel at $address:$ROLE_SENTINEL_PORT: $(head -n 1 <<<"$out")"
    return 1
  }
}

# The sentinels' addresses but this node's.
other_sentinels() {
  local address
  for address in $ROLE_SENTINELS; do
    [[ $address == "$ROLE_SELF" ]] || echo "$address"
  done
}

# Asks every other sentinel (this node's own may hold a fresh config of a
# replaced node, so it has no say); keeps the view with the highest config
# epoch, which is Sentinel's own rule for the newest configuration.
ask_sentinels() {
  local address ip port epoch replicas view
  VIEW_IP="" VIEW_PORT="" VIEW_EPOCH=-1 VIEW_REPLICAS=0 ANSWERS=0 UNKNOWN=0 REFUSED=0
  for address in $(other_sentinels); do
    view=$(sentinel_view "$address") || continue
    if [[ $view == refused ]]; then
      REFUSED=$((REFUSED + 1))
      continue
    fi
    ANSWERS=$((ANSWERS + 1))
    if [[ $view == unknown ]]; then
      UNKNOWN=$((UNKNOWN + 1))
      continue
    fi
    read -r ip port epoch replicas _ <<<"$view"
    [[ $epoch =~ ^[0-9]+$ && $replicas =~ ^[0-9]+$ && $port =~ ^[0-9]+$ ]] || continue
    if ((epoch > VIEW_EPOCH)) || { ((epoch == VIEW_EPOCH)) && [[ $ip != "$ROLE_SELF" ]]; }; then
      VIEW_IP=$ip VIEW_PORT=$port VIEW_EPOCH=$epoch
    fi
    # What any sentinel knows of this node's replicas counts.
    if [[ $ip == "$ROLE_SELF" ]] && ((replicas > VIEW_REPLICAS)); then VIEW_REPLICAS=$replicas; fi
  done
}

# Whether the data directory holds a dataset (an RDB snapshot or an AOF).
holds_data() {
  [[ -s $ROLE_DATA_DIR/dump.rdb ]] || [[ -n $(find "$ROLE_DATA_DIR" -maxdepth 2 -type f -name 'appendonly*' -size +0 -print -quit 2>/dev/null) ]]
}

# "ip port" of the replicaof line of redis.conf, empty on a master.
configured_master() {
  awk '$1 == "replicaof" || $1 == "slaveof" { line = $2 " " $3 } END { print line }' "$REDIS_CONF"
}

# set_role [ADDRESS PORT]: replicaof ADDRESS PORT in redis.conf, or none (master).
set_role() {
  local want=${1:+$1 ${2:-}} tmp
  [[ $(configured_master) != "$want" ]] || return 0
  tmp=$(mktemp "$REDIS_CONF.role.XXXXXX")
  grep -vE '^[[:space:]]*(replicaof|slaveof)[[:space:]]' "$REDIS_CONF" >"$tmp" || true
  [[ -z $want ]] || echo "replicaof $want" >>"$tmp"
  chown --reference="$REDIS_CONF" "$tmp"
  chmod --reference="$REDIS_CONF" "$tmp"
  mv -f "$tmp" "$REDIS_CONF"
}

# follow_config WHY: the role redis.conf gives (a replica of its replicaof, else master).
follow_config() {
  local -a master
  read -r -a master <<<"$(configured_master)"
  if ((${#master[@]} > 0)); then
    decided replica "$1" "${master[@]}"
  else
    decided master "$1"
  fi
}

# decided ROLE WHY [ADDRESS PORT]: writes the role, logs it, keeps it.
decided() {
  local role=$1 why=$2
  shift 2
  set_role "$@"
  say "starting as $role${1:+ of $1:${2:-}}: $why"
  mkdir -p "$STATE_DIR"
  echo "$(date -u +%FT%TZ) $role${1:+ of $1:${2:-}}: $why" >"$ROLE_DECISION_FILE"
}

decide() {
  local start=$SECONDS round empty=false configured waited last_said=0 refusals
  holds_data || empty=true
  configured=$(configured_master)
  if [[ -z $(other_sentinels) ]]; then
    follow_config "no other sentinel in the group to ask: as redis.conf says"
    return 0
  fi
  say "asking the sentinels ($ROLE_SENTINELS, not this node's) for the master of $ROLE_MASTER_NAME; this node is $ROLE_SELF, planned $ROLE_PLANNED, data directory $([[ $empty == true ]] && echo empty || echo "holds data"), redis.conf: ${configured:+replica of }${configured:-master}"
  # Each round sleeps at least a second: the count bounds it too.
  for ((round = 1; round <= ROLE_WAIT_SECONDS + 1; round++)); do
    waited=$((SECONDS - start))
    LOUD=false
    if ((round == 1 || waited / 5 != last_said / 5)); then
      LOUD=true
      last_said=$waited
    fi
    ask_sentinels
    if [[ -n $VIEW_IP && $VIEW_IP != "$ROLE_SELF" ]]; then
      decided replica "the sentinels name $VIEW_IP:$VIEW_PORT as master (config epoch $VIEW_EPOCH, $ANSWERS answered)" "$VIEW_IP" "$VIEW_PORT"
      return 0
    fi
    if [[ $VIEW_IP == "$ROLE_SELF" ]]; then
      if [[ $empty == false ]]; then
        decided master "the sentinels name this node as master (config epoch $VIEW_EPOCH) and it holds data"
        return 0
      fi
      if ((VIEW_REPLICAS == 0)); then
        decided master "the sentinels name this node as master (config epoch $VIEW_EPOCH) and know no replica of it: nothing to lose"
        return 0
      fi
      [[ $LOUD == false ]] || say "the sentinels name this node as master, but it is empty and they know $VIEW_REPLICAS replica(s) that may hold data: waiting for them to promote one (${waited}s of ${ROLE_WAIT_SECONDS}s)"
    elif ((ANSWERS > 0 && UNKNOWN == ANSWERS)); then
      if [[ $ROLE_PLANNED == master ]]; then
        decided master "no sentinel knows a master of $ROLE_MASTER_NAME and this node is the planned master"
      else
        follow_config "no sentinel knows a master of $ROLE_MASTER_NAME: as redis.conf says"
      fi
      return 0
    elif [[ -n $configured || $empty == false ]] && ((waited >= ROLE_ASK_SECONDS)); then
      # A replica cannot make anyone flush; a node with data keeps the role it had.
      refusals=""
      ((REFUSED == 0)) || refusals=" ($REFUSED refused user $PEER_USER, see above)"
      follow_config "no sentinel answered in ${waited}s$refusals: as redis.conf says"
      return 0
    fi
    ((SECONDS - start < ROLE_WAIT_SECONDS)) || break
    sleep 1
  done
  if [[ $VIEW_IP == "$ROLE_SELF" ]]; then
    fail "role: the sentinels still name this empty node as master after ${ROLE_WAIT_SECONDS}s and know $VIEW_REPLICAS replica(s) of it: not starting redis-server as an empty master that its replicas would follow and flush. Have a replica promoted (SENTINEL FAILOVER $ROLE_MASTER_NAME, or REPLICAOF NO ONE on the replica with the most data), then start redis-server again"
  fi
  if ((REFUSED > 0)); then
    # A user of its own: a wrong password; sentinel-peer: sentinels made before it had the right.
    local hint="Sentinels made by an older version lack the right: on each, as admin, ACL SETUSER $PEER_USER +sentinel|master, then SENTINEL FLUSHCONFIG"
    [[ -z ${ROLE_USER:-} ]] || hint="Check the password in $ROLE_PASSWORD_FILE against the sentinels' $PEER_USER (after a rotation: its switch step on this node)"
    fail "role: $REFUSED sentinel(s) refused SENTINEL MASTER to user $PEER_USER (see above) and none answered in ${ROLE_WAIT_SECONDS}s: not starting this empty node as master while the sentinels run. $hint; then start redis-server again"
  fi
  if [[ $ROLE_PLANNED == master ]]; then
    decided master "no sentinel answered in ${ROLE_WAIT_SECONDS}s and this node is the planned master (the group's first start)"
    return 0
  fi
  fail "role: no sentinel answered in ${ROLE_WAIT_SECONDS}s, and this empty node's redis.conf makes it a master it was not planned to be: not starting redis-server. Check the sentinels ($ROLE_SENTINELS), then start redis-server again"
}

# PEER_USER and PEER_PASSWORD: the login the decision asks the sentinels with.
read_login() {
  if [[ -n ${ROLE_USER:-} ]]; then
    PEER_USER=$ROLE_USER
    PEER_PASSWORD=$(cat "${ROLE_PASSWORD_FILE:?}" 2>/dev/null) || PEER_PASSWORD=""
    [[ -n $PEER_PASSWORD ]] || fail "role: cannot read $ROLE_PASSWORD_FILE, the password of $ROLE_USER that asks the sentinels, or it is empty (rerun /usr/local/sbin/redis-node-boot as root to fetch it again)"
  else
    [[ -f $ROLE_SENTINEL_CONF ]] || fail "role: no $ROLE_SENTINEL_CONF, whose sentinel-peer login asks the other sentinels"
    PEER_USER=$(sentinel_conf_setting "$ROLE_SENTINEL_CONF" sentinel-user)
    PEER_PASSWORD=$(sentinel_conf_setting "$ROLE_SENTINEL_CONF" sentinel-pass)
    [[ -n $PEER_USER && -n $PEER_PASSWORD ]] || fail "role: $ROLE_SENTINEL_CONF has no sentinel-user and sentinel-pass"
  fi
}

main() {
  load_node_env
  : "${ROLE_SENTINELS:?}" "${ROLE_SENTINEL_PORT:?}" "${ROLE_MASTER_NAME:?}" "${ROLE_SELF:?}" "${ROLE_PLANNED:?}" "${ROLE_ASK_SECONDS:?}" "${ROLE_WAIT_SECONDS:?}"
  case ${1:-} in
    check)
      require_command redis-cli "$APT_HINT"
      require_command timeout "coreutils is part of every image"
      ;;
    # The login's password outlives the boot's secrets: every start asks.
    # ROLE_USER's password, from the secrets the boot fetched, kept root only.
    prepare) [[ -z ${ROLE_USER:-} ]] || keep_password "$ROLE_USER" "${ROLE_PASSWORD_FILE:?node.env names ROLE_USER but no ROLE_PASSWORD_FILE}" ;;
    # The decision ran in redis-server's start (ExecStartPre); its line for the boot's log.
    start) [[ ! -f $ROLE_DECISION_FILE ]] || say "redis-server started as $(cut -d' ' -f2- "$ROLE_DECISION_FILE")" ;;
    decide)
      [[ -f $REDIS_CONF ]] || fail "role: no $REDIS_CONF"
      read_login
      TLS=""
      # redis.conf and sentinel.conf of a group listen alike: TLS for one is TLS for both.
      if grep -q '^tls-port ' "$REDIS_CONF"; then TLS=${REDIS_NODE_TLS_DIR:-${TLS_DIR:?TLS is on but node.env has no TLS_DIR}}; fi
      readonly PEER_USER PEER_PASSWORD TLS
      # Runs after redis-sentinel at every start: a planned failover killed
      # while it had this node's sentinel's failover-timeout at 1 ms is undone
      # here. A node without a sentinel has no such file.
      [[ -n ${ROLE_USER:-} ]] || restore_failover_timeout_left local_sentinel
      decide
      ;;
    *) fail "usage: $0 check|prepare|start|decide" ;;
  esac
}

# Sourced by the tests of its helpers; run by the entry script and by systemd.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
