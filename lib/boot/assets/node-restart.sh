#!/bin/bash
# redis-node-restart: restarts this node's redis-server (then its sentinel)
# only when the group can take it, and waits until the node is back in sync.
# One step of a rolling restart (security updates installed without a
# restart, a changed setting): run it on each replica, then on the master,
# each only after the previous one returned 0.
#   redis-node-restart           restart now, or refuse (exit 1) and say why
#   redis-node-restart --check   only say whether this node may restart now
# The group must be healthy first: every sentinel names the same master and
# none runs a failover, the quorum is reachable, every replica the master
# lists is online, and every replica the sentinels know is listed online,
# attached and seen by them: so a second node is never restarted while the
# first one is still syncing. On the master, the restart runs redis-server's
# ExecStop=, the planned failover, which moves the role first; the node then
# starts (the role decision, ExecStartPre=) as a replica of the new master.
# Every wait is bounded. Installed by the planned-failover part (every data
# node watched by Sentinel) as /usr/local/sbin/redis-node-restart; run as
# root. It logs in to this node's redis-server as node-ops, and:
# - with a sentinel on the node: to it as node-ops, to the other sentinels
#   as the node's sentinel does (sentinel-peer), and to the master as the
#   sentinels do (sentinel.conf's auth-user); then it restarts the sentinel;
# - on a data node of dedicated sentinels (HANDOVER_USER in node.env), which
#   runs none: to the sentinels as node-handover (the planned failover's
#   login, read-only but for SENTINEL FAILOVER), through the last of them
#   that answers, and to the master as replication (the login the node
#   replicates with, masterauth in its redis.conf), which may ask ROLE only:
#   where the other kind reads the master's INFO, it reads its ROLE, which
#   lists the online replicas and their offsets. A master whose ACL an older
#   version wrote refuses ROLE to replication: then what every sentinel last
#   saw of each replica stands for it (SENTINEL REPLICAS: flags, link, the
#   master it follows, its offset; up to 10 s old).
# Passwords are read from root-only files and passed through REDISCLI_AUTH,
# never printed.
set -euo pipefail
shopt -s inherit_errexit
readonly LIB_DIR=${REDIS_NODE_LIB:-/usr/local/lib/redis-node}
# The hand-over's helpers (node-ops logins, the named master, promotable replicas).
# shellcheck source=/dev/null
source "$LIB_DIR/parts/planned-failover.sh"
# The role decision's helpers (sentinel.conf settings, another sentinel's view).
# shellcheck source=/dev/null
source "$LIB_DIR/parts/redis-role.sh"

log() {
  echo "redis-node-restart: $*"
  logger -t redis-node-restart "$*" 2>/dev/null || true
}
fail() {
  echo "redis-node-restart: ERROR: $*" >&2
  logger -t redis-node-restart "ERROR: $*" 2>/dev/null || true
  exit 1
}

# How long the node may take to be back in sync (a full resync of a large dataset takes minutes).
readonly SYNC_SECONDS=${RESTART_SYNC_SECONDS:-600}
# How far (bytes) this replica's offset may trail the master's and count as caught up.
readonly MAX_LAG_BYTES=${RESTART_MAX_LAG_BYTES:-1048576}
# How long the restarted sentinel may take to see the master and its quorum.
readonly SENTINEL_SECONDS=${RESTART_SENTINEL_SECONDS:-60}
# The service manager: systemd on a node (the integration suite, without systemd, names a stand-in).
service_manager() { "${REDIS_NODE_SERVICE_MANAGER:-systemctl}" "$@"; }

# at_master IP PORT ARG...: a command to the master as the sentinels log in
# to it (with dedicated sentinels: as replication).
at_master() {
  local ip=$1 port=$2
  shift 2
  REDISCLI_AUTH=$AUTH_PASS timeout "$CLI_TIMEOUT" redis-cli "${TLS_ARGS[@]}" -h "$ip" -p "$port" --user "$AUTH_USER" --no-auth-warning "$@" 2>&1
}

# This node's role: "master", "replica of IP:PORT <link state> <offset>", or fails.
local_role() {
  local -a lines
  mapfile -t lines < <(redis ROLE)
  case ${lines[0]:-} in
    master) echo master ;;
    slave) echo "replica ${lines[1]}:${lines[2]} ${lines[3]} ${lines[4]}" ;;
    *) return 1 ;;
  esac
}

# SENTINEL REPLICAS (redis-cli's lines, a key then its value) on stdin, as
# "ip:port flags link master-host:master-port offset" per replica.
replica_table() {
  awk '
    function flush() { if (ip != "") print ip ":" port, flags, link, host ":" mport, offset; ip = "" }
    NR % 2 == 1 { key = $0; next }
    key == "name" { flush() }
    key == "ip" { ip = $0 }
    key == "port" { port = $0 }
    key == "flags" { flags = $0 }
    key == "master-link-status" { link = $0 }
    key == "master-host" { host = $0 }
    key == "master-port" { mport = $0 }
    key == "slave-repl-offset" { offset = $0 }
    END { flush() }'
}

# The replicas this node's sentinel knows, "ip:port flags link" per line.
known_replicas() {
  sentinel SENTINEL REPLICAS "$SENTINEL_MASTER_NAME" | replica_table | cut -d' ' -f1-3
}

# A master's ROLE (redis-cli's lines) on stdin as "ip:port online" per
# replica it lists (ROLE lists online replicas only); fails unless it is a
# master's.
online_replicas() {
  awk 'NR == 1 { if ($0 != "master") exit 1; next }
    NR > 2 && (NR - 3) % 3 == 0 { ip = $0 }
    NR > 2 && (NR - 3) % 3 == 1 { print ip ":" $0, "online" }
    END { if (NR == 0) exit 1 }'
}

# The replicas the master at IP PORT lists, "ip:port state" per line: its
# INFO replication, as the sentinels log in to it; with dedicated sentinels,
# its ROLE (this node's own, as node-ops, when it is the master).
listed_replicas() {
  if [[ -z ${HANDOVER_USER:-} ]]; then
    at_master "$1" "$2" INFO replication | tr -d '\r' |
      sed -n 's/^slave[0-9]*:ip=\([^,]*\),port=\([0-9]*\),state=\([a-z_]*\),.*/\1:\2 \3/p'
  elif [[ "$1 $2" == "$NODE_ADDRESS $REDIS_PORT" ]]; then
    redis ROLE | online_replicas
  else
    at_master "$1" "$2" ROLE | online_replicas
  fi
}

# replicas_seen_by_sentinels IP PORT: "ip:port state" per replica any
# sentinel knows; "online" when every sentinel that answers is connected to
# it and saw it (its last INFO of it, every 10 s) replicate from IP:PORT
# with its link up; else what each saw. (Dedicated sentinels, asked as
# node-handover, when the master refuses ROLE to replication.)
replicas_seen_by_sentinels() {
  local address
  for address in $ROLE_SENTINELS; do
    role_cli "$address" "$PEER_USER" "$PEER_PASSWORD" SENTINEL REPLICAS "$SENTINEL_MASTER_NAME" | replica_table |
      awk -v at="$address" '{ print $1, at, $2, $3, $4 }' || true
  done | awk -v master="$1:$2" '
    { seen[$1] = 1 }
    !($3 == "slave" && $4 == "ok" && $5 == master) {
      what = "\x27" $3 "\x27, link " $4 ", following " $5
      if (!(($1, what) in at)) order[$1] = order[$1] SUBSEP what
      at[$1, what] = at[$1, what] (at[$1, what] == "" ? "" : " ") $2
    }
    END {
      for (r in seen) {
        if (!(r in order)) { print r, "online"; continue }
        n = split(substr(order[r], 2), whats, SUBSEP)
        line = ""
        for (i = 1; i <= n; i++) line = line (i > 1 ? "; " : "") "at " at[r, whats[i]] ": " whats[i]
        print r, line
      }
    }'
}

# Why this node must not restart now, one reason a line (none: it may).
# Sets MASTER ("ip port", what every sentinel names) on the way.
reasons_not_now() {
  local address view ip port flags listed replica state link role
  local -a named=()
  MASTER=""
  role=$(local_role) || echo "redis-server on this node does not answer ROLE"
  for address in $ROLE_SENTINELS; do
    if ! view=$(sentinel_view "$address") || [[ $view == unknown || $view == refused ]]; then
      echo "the sentinel at $address:$ROLE_SENTINEL_PORT does not name a master (${view:-no answer})"
      continue
    fi
    read -r ip port _ _ flags <<<"$view"
    named+=("$address:$ip:$port")
    [[ $flags == master ]] || echo "the sentinel at $address flags the master $ip:$port '$flags' (down, or a failover runs)"
    [[ -n $MASTER ]] || MASTER="$ip $port"
  done
  if [[ $(printf '%s\n' "${named[@]#*:}" | sort -u | wc -l) -gt 1 ]]; then
    echo "the sentinels do not agree on the master: ${named[*]}"
  fi
  # Dedicated sentinels: none answered node-handover's login (main says which).
  if [[ -z ${SESSION_LOGIN[sentinel]:-} ]]; then
    echo "none of the sentinels ($ROLE_SENTINELS) answers as $HANDOVER_USER"
    return 0
  fi
  [[ $(sentinel INFO sentinel) == *sentinel_tilt:0* ]] || echo "$SENTINEL_AT is in TILT mode"
  state=$(sentinel SENTINEL CKQUORUM "$SENTINEL_MASTER_NAME") || true
  [[ $state == OK* ]] || echo "the sentinels cannot reach their quorum: $state"
  [[ -n $MASTER ]] || return 0
  local LISTED_BY="the master lists" NOT_LISTED_BY="the master does not list"
  if ! listed=$(listed_replicas "${MASTER% *}" "${MASTER#* }") && [[ -n ${HANDOVER_USER:-} ]]; then
    LISTED_BY="the sentinels (their last INFO of it, every 10 s) see" NOT_LISTED_BY="the sentinels do not see"
    listed=$(replicas_seen_by_sentinels "${MASTER% *}" "${MASTER#* }") || true
  fi
  while read -r replica state; do
    [[ -z $replica || $state == online ]] || echo "$LISTED_BY replica $replica as $state, not online (down or still syncing)"
  done <<<"$listed"
  while read -r replica flags link; do
    [[ -n $replica ]] || continue
    [[ $flags == slave && $link == ok ]] || echo "the sentinels see replica $replica as '$flags', link $link (down or still syncing; a replica removed for good stays until SENTINEL RESET)"
    [[ $listed == *"$replica online"* ]] || echo "$NOT_LISTED_BY replica $replica as online (down or still syncing)"
  done < <(known_replicas)
  if [[ $MASTER == "$NODE_ADDRESS $REDIS_PORT" && -z $(promotable_replicas || true) ]]; then
    echo "this node is the master and no replica can take over (none up with a priority above 0)"
  fi
}

# master_offset IP PORT OWN: "OFFSET WHAT": the master's replication offset
# (its ROLE, as at_master logs in). With dedicated sentinels and a master
# that refuses ROLE to replication, a lower bound: the highest offset the
# sentinel last saw (INFO, every 10 s) on another replica, OWN (this node's)
# when it knows none.
master_offset() {
  local -a lines
  mapfile -t lines < <(at_master "$1" "$2" ROLE)
  if [[ ${lines[0]:-} == master && ${lines[1]:-} =~ ^[0-9]+$ ]]; then
    echo "${lines[1]} the master's offset"
  elif [[ -n ${HANDOVER_USER:-} ]]; then
    sentinel SENTINEL REPLICAS "$SENTINEL_MASTER_NAME" | replica_table |
      awk -v self="$NODE_ADDRESS:$REDIS_PORT" -v high="$3" '$1 != self && $5 + 0 > high + 0 { high = $5 } END { print high, "the highest offset the sentinel last saw on another replica" }'
  else
    return 1
  fi
}

# Waits (bounded) until this node is a replica of the master the sentinels
# name, attached, caught up with it (master_offset) and seen healthy by
# its sentinel (with dedicated sentinels: the one that answered).
# Prints the master on success.
wait_in_sync() {
  local deadline said=0 master role link offset master_offset offset_is status
  deadline=$((SECONDS + SYNC_SECONDS))
  while :; do
    status=""
    if ! master=$(named_master); then
      status="$SENTINEL_AT names no master"
    else
      role=$(local_role) || role="no answer"
      read -r _ link offset <<<"${role#replica }"
      read -r master_offset offset_is <<<"$(master_offset "${master% *}" "${master#* }" "$offset" || true)"
      if [[ $role == master ]]; then
        status="this node is master"
      elif [[ $role != "replica ${master/ /:} "* ]]; then
        status="role: $role, the sentinels name ${master/ /:}"
      elif [[ $link != connected ]]; then
        status="link to ${master/ /:}: $link"
      elif ! [[ $master_offset =~ ^[0-9]+$ ]] || ((master_offset - offset > MAX_LAG_BYTES)); then
        [[ -n $offset_is ]] || offset_is="the master's offset"
        status="offset $offset, $offset_is ${master_offset:-unknown}"
      elif [[ $(known_replicas) != *"$NODE_ADDRESS:$REDIS_PORT slave ok"* ]]; then
        status="in sync, waiting for the sentinel to see it (it asks replicas every 10 s)"
      else
        echo "$master"
        return 0
      fi
    fi
    ((SECONDS < deadline)) || { log "not back in sync after ${SYNC_SECONDS}s: $status" >&2; return 1; }
    if ((SECONDS - said >= 10)); then
      log "waiting: $status" >&2
      said=$SECONDS
    fi
    sleep 0.2
  done
}

restart_sentinel() {
  local deadline started=$SECONDS master flags quorum=""
  log "restarting redis-sentinel"
  service_manager restart redis-sentinel.service || fail "restarting redis-sentinel failed"
  deadline=$((SECONDS + SENTINEL_SECONDS))
  while :; do
    if master=$(named_master); then
      flags=$(sentinel SENTINEL MASTER "$SENTINEL_MASTER_NAME" | field flags) || true
      quorum=$(sentinel SENTINEL CKQUORUM "$SENTINEL_MASTER_NAME") || true
      if [[ $flags == master && $quorum == OK* ]]; then
        log "redis-sentinel is back: it names ${master/ /:} as master and reaches its quorum (${quorum#OK }) after $((SECONDS - started))s"
        return 0
      fi
    fi
    ((SECONDS < deadline)) || fail "redis-sentinel does not see the master and its quorum after ${SENTINEL_SECONDS}s (${quorum:-no answer}); see journalctl -u redis-sentinel"
    sleep 0.2
  done
}

main() {
  local check=false reasons role started master
  case ${1:-} in
    --check) check=true ;;
    "") ;;
    *) fail "usage: redis-node-restart [--check]" ;;
  esac
  load_node_env
  : "${REDIS_PORT:?}" "${NODE_ADDRESS:?}" "${NODE_OPS_PASSWORD_FILE:?}" "${ROLE_SENTINELS:?}" "${ROLE_SENTINEL_PORT:?}"
  [[ -r $NODE_OPS_PASSWORD_FILE ]] || fail "cannot read $NODE_OPS_PASSWORD_FILE: run as root"
  # shellcheck disable=SC2034 # the sourced helpers' logins: node-ops, sentinel-peer (TLS: the node's files)
  OPS_PASSWORD=$(<"$NODE_OPS_PASSWORD_FILE")
  # The logins of the sourced redis and sentinel helpers (no sessions: one redis-cli a command).
  # shellcheck disable=SC2034,SC2154 # SESSION_LOGIN: planned-failover.sh's associative array
  SESSION_LOGIN[redis]=127.0.0.1:$REDIS_PORT:node-ops:$OPS_PASSWORD
  [[ -z ${TLS_DIR:-} ]] || TLS_ARGS=(--tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/node.crt" --key "$TLS_DIR/node.key")
  # shellcheck disable=SC2034
  TLS=${TLS_DIR:-}
  if [[ -n ${HANDOVER_USER:-} ]]; then
    # Dedicated sentinels: every question to them as node-handover, the
    # last of them that answers standing for "the sentinel" (no session kept).
    SENTINEL_MASTER_NAME=${SENTINEL_MASTER_NAME:-${ROLE_MASTER_NAME:?}}
    [[ -r ${HANDOVER_PASSWORD_FILE:?} ]] || fail "cannot read $HANDOVER_PASSWORD_FILE: run as root"
    REMOTE_PASSWORD=$(<"$HANDOVER_PASSWORD_FILE")
    # shellcheck disable=SC2034
    PEER_USER=$HANDOVER_USER PEER_PASSWORD=$REMOTE_PASSWORD
    # The master's ROLE, asked as this node replicates from it.
    [[ -r $REDIS_CONF ]] || fail "cannot read $REDIS_CONF: run as root"
    replication_login
    AUTH_USER=$REPLICATION_USER AUTH_PASS=$REPLICATION_PASSWORD
    trap close_sessions EXIT
    choose_remote_sentinel
    close_sessions
  else
    : "${SENTINEL_PORT:?}" "${SENTINEL_MASTER_NAME:?}"
    # shellcheck disable=SC2034,SC2154
    SESSION_LOGIN[sentinel]=127.0.0.1:$SENTINEL_PORT:node-ops:$OPS_PASSWORD
    [[ -r $ROLE_SENTINEL_CONF ]] || fail "cannot read $ROLE_SENTINEL_CONF: run as root"
    # shellcheck disable=SC2034
    PEER_USER=$(sentinel_conf_setting "$ROLE_SENTINEL_CONF" sentinel-user) PEER_PASSWORD=$(sentinel_conf_setting "$ROLE_SENTINEL_CONF" sentinel-pass)
    AUTH_USER=$(sentinel_conf_setting "$ROLE_SENTINEL_CONF" "auth-user $SENTINEL_MASTER_NAME")
    AUTH_PASS=$(sentinel_conf_setting "$ROLE_SENTINEL_CONF" "auth-pass $SENTINEL_MASTER_NAME")
  fi
  # shellcheck disable=SC2034 # sentinel_view says nothing itself: the reasons do
  LOUD=false
  mkdir -p "$RUN_DIR"
  exec 9>>"$RUN_DIR/node-restart.lock"
  flock -n 9 || fail "another redis-node-restart runs on this node"

  role=$(local_role) || role="unknown (redis-server does not answer)"
  reasons=$(reasons_not_now)
  if [[ $role == replica* ]]; then role="replica of $(cut -d' ' -f2 <<<"$role")"; fi
  log "this node ($NODE_ADDRESS:$REDIS_PORT) is $role"
  if [[ -n $reasons ]]; then
    while read -r line; do log "not now: $line"; done <<<"$reasons"
    log "may restart now: no"
    exit 1
  fi
  log "may restart now: yes (the group is healthy)"
  [[ $check == false ]] || exit 0

  started=$SECONDS
  [[ $role != master ]] || log "the master: the restart's stop step hands the role over first (planned failover)"
  log "restarting redis-server"
  service_manager restart redis-server.service || fail "restarting redis-server failed; see journalctl -u redis-server"
  log "redis-server restarted after $((SECONDS - started))s; waiting until it is back in sync"
  master=$(wait_in_sync) || fail "redis-server is not back in sync after ${SYNC_SECONDS}s: do not restart another node; see journalctl -u redis-server"
  log "redis-server is a replica of ${master/ /:} in sync: out for $((SECONDS - started))s"
  [[ -n ${HANDOVER_USER:-} ]] || restart_sentinel
  log "done in $((SECONDS - started))s: this node is a replica of ${master/ /:}"
}

main "$@"
