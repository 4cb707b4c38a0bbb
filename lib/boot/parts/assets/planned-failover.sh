#!/bin/bash
# Boot part "planned-failover": systemd runs this step with "stop" before it
# stops redis-server on purpose (ExecStop= of the part's drop-in: systemctl
# stop or restart, a reboot, an instance replacement). On the master it
# hands the role over first, so clients lose about a second of writes
# instead of a failure detection:
#   1. checks (each a reason to just stop): redis-server still runs (systemd
#      runs ExecStop= also after a crash: then the restart delay holds), this
#      node is the master the sentinels name, they see it up and can reach
#      their quorum, and a replica can take over;
#   2. CLIENT PAUSE WRITE: clients' writes wait instead of failing, and
#      nothing is written here that the new master would not have;
#   3. waits (bounded) until every replica Sentinel could promote has
#      acknowledged the master's whole stream, so the promoted one holds
#      every write another replica acknowledged (WAIT);
#   4. SENTINEL FAILOVER on this node's sentinel, then waits (bounded) until
#      it names the new master;
#   5. REPLICAOF the new master (rewritten into redis.conf: a restart comes
#      back as a replica and resumes with a partial resync), waits (bounded)
#      until attached, so the new master counts a replica for
#      min-replicas-to-write, then closes the clients' connections: their
#      paused writes were never run, and
#      Sentinel-aware clients reconnect through Sentinel to the new master
#      (ioredis sends them again). A client that stayed would get NOREPLICAS
#      or READONLY until Sentinel demoted this node, ~10 s.
# Redis's own FAILOVER command is not used: Sentinel does not take part in
# it and fails the group over again. Every wait is bounded; the step always
# exits 0, so the stop goes on whatever happens.
set -euo pipefail
shopt -s inherit_errexit
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/common.sh"

log() {
  echo "planned-failover: $*" >&2
  logger -t redis-planned-failover "$*" 2>/dev/null || true
}

readonly CLI_TIMEOUT=${REDIS_NODE_CLI_TIMEOUT:-2}
# How long the replicas may take to acknowledge the whole stream (they ack every second).
readonly CATCH_UP_MS=${HANDOVER_CATCH_UP_MS:-1500}
# How long Sentinel may take to name the new master (it sees the promotion in its next INFO, ~1 s).
readonly PROMOTION_MS=${HANDOVER_PROMOTION_MS:-5000}
# How long this node may take to attach to the new master as a replica.
readonly ATTACH_MS=${HANDOVER_ATTACH_MS:-1000}
readonly POLL_SECONDS=0.05
# redis.conf leaves repl-ping-replica-period at Redis's default.
readonly REPL_PING_SECONDS=10
readonly OPS_USER=node-ops
TLS_ARGS=()
OPS_PASSWORD=""

# ops PORT ARG...: one command to this node's redis-server or sentinel as node-ops, bounded in time.
ops() {
  local port=$1
  shift
  REDISCLI_AUTH=$OPS_PASSWORD timeout "$CLI_TIMEOUT" redis-cli "${TLS_ARGS[@]}" -h 127.0.0.1 -p "$port" --user "$OPS_USER" --no-auth-warning "$@" 2>&1
}
redis() { ops "$REDIS_PORT" "$@"; }
sentinel() { ops "$SENTINEL_PORT" "$@"; }

now_ms() { date +%s%3N; }

# field NAME: the value after the line NAME in a flat key/value reply on stdin.
field() {
  awk -v k="$1" 'NR % 2 == 1 && $0 == k { getline; print; exit }'
}

# The replicas Sentinel could promote ("ip port" per line): not down, not
# disconnected, priority above 0 (the flags and fields of SENTINEL REPLICAS).
promotable_replicas() {
  sentinel SENTINEL REPLICAS "$SENTINEL_MASTER_NAME" | awk '
    function flush() { if (ip != "" && flags == "slave" && priority != "0") print ip, port; ip = port = flags = priority = "" }
    NR % 2 == 1 { key = $0; next }
    key == "name" { flush() }
    key == "ip" { ip = $0 }
    key == "port" { port = $0 }
    key == "flags" { flags = $0 }
    key == "slave-priority" { priority = $0 }
    END { flush() }'
}

# "<master offset> <ip>:<port>=<acknowledged offset> ..." from ROLE.
acknowledged_offsets() {
  local -a lines
  local i out
  mapfile -t lines < <(redis ROLE)
  [[ ${lines[0]:-} == master ]] || return 1
  out=${lines[1]}
  for ((i = 2; i + 2 < ${#lines[@]}; i += 3)); do
    out+=" ${lines[i]}:${lines[i + 1]}=${lines[i + 2]}"
  done
  echo "$out"
}

# Waits until each replica in $@ ("ip:port") acknowledged the master's offset.
wait_for_catch_up() {
  local deadline offsets master_offset replica behind
  deadline=$(($(now_ms) + CATCH_UP_MS))
  while :; do
    offsets=$(acknowledged_offsets) || return 1
    master_offset=${offsets%% *}
    behind=""
    for replica in "$@"; do
      [[ " $offsets " == *" $replica=$master_offset "* ]] || behind+=" $replica"
    done
    if [[ -z $behind ]]; then
      log "every promotable replica acknowledged offset $master_offset"
      return 0
    fi
    if (($(now_ms) >= deadline)); then
      log "replicas$behind have not acknowledged offset $master_offset within $CATCH_UP_MS ms (ROLE: $offsets)"
      return 1
    fi
    sleep "$POLL_SECONDS"
  done
}

# Waits until ROLE says this node is a connected replica of IP PORT.
wait_until_attached() {
  local deadline
  deadline=$(($(now_ms) + ATTACH_MS))
  until [[ $(redis ROLE | tr '\n' ' ') == "slave $1 $2 connected "* ]]; do
    (($(now_ms) < deadline)) || return 1
    sleep "$POLL_SECONDS"
  done
}

# The address the local sentinel names as master: "ip port".
named_master() {
  local -a lines
  mapfile -t lines < <(sentinel SENTINEL GET-MASTER-ADDR-BY-NAME "$SENTINEL_MASTER_NAME")
  [[ ${#lines[@]} -eq 2 && ${lines[1]} =~ ^[0-9]+$ ]] || return 1
  echo "${lines[0]} ${lines[1]}"
}

# Why this node should not hand over (empty: it should), from the checks of step 1.
reason_to_just_stop() {
  local role master state flags quorum
  if [[ -n ${EXIT_CODE:-} ]]; then
    echo "redis-server is gone ($EXIT_CODE ${EXIT_STATUS:-}): a crash, not a stop; Sentinel fails over after down-after-milliseconds and the restart delay holds this node down until then"
    return
  fi
  [[ -n ${SENTINEL_PORT:-} ]] || { echo "no sentinel runs on this node"; return; }
  role=$(redis ROLE | head -n 1) || true
  case $role in
    master) ;;
    slave) echo "this node is a replica: nothing to hand over"; return ;;
    *) echo "redis-server does not answer ROLE: ${role:-no reply}"; return ;;
  esac
  master=$(named_master) || { echo "the sentinel on this node names no master"; return; }
  [[ $master == "$NODE_ADDRESS $REDIS_PORT" ]] || { echo "the sentinels name ${master/ /:} as master, not this node: nothing to hand over"; return; }
  state=$(sentinel SENTINEL MASTER "$SENTINEL_MASTER_NAME") || true
  flags=$(field flags <<<"$state")
  [[ $flags == master ]] || { echo "the sentinel flags this master '$flags' (down, or a failover runs): Sentinel handles it"; return; }
  [[ $(sentinel INFO sentinel) == *sentinel_tilt:0* ]] || { echo "the sentinel on this node is in TILT mode (its timer stalled) and would not act for up to 30 s"; return; }
  quorum=$(sentinel SENTINEL CKQUORUM "$SENTINEL_MASTER_NAME") || true
  [[ $quorum == OK* ]] || { echo "the sentinels cannot reach their quorum ($quorum): a forced failover could split the group"; return; }
  [[ -n $(promotable_replicas || true) ]] || { echo "no replica can take over (none up with a priority above 0)"; return; }
}

# resume WHY: gives up before the failover: writes go on here, then redis-server stops as it would without this step.
resume() {
  redis CONFIG SET repl-ping-replica-period "$REPL_PING_SECONDS" >/dev/null || true
  redis CLIENT UNPAUSE >/dev/null || true
  log "$1: writes resumed, stopping without a hand-over"
}

hand_over() {
  local started paused_at reply deadline master new_ip new_port killed demoted attached closed_at
  local -a replicas
  started=$(now_ms)
  mapfile -t replicas < <(promotable_replicas | tr ' ' ':')
  # The master pings its replicas through the replication stream even while
  # clients are paused: a ping that reaches the other replicas after the
  # promotion puts them past the new master, which then makes them (and this
  # node) resync in full, and refuses writes meanwhile (NOREPLICAS).
  redis CONFIG SET repl-ping-replica-period 3600 >/dev/null
  # Longer than every bounded wait below: the pause ends when redis-server stops.
  reply=$(redis CLIENT PAUSE $((CATCH_UP_MS + PROMOTION_MS + 5000)) WRITE)
  [[ $reply == OK ]] || { resume "CLIENT PAUSE WRITE: $reply"; return 0; }
  paused_at=$(now_ms)
  log "writes paused; waiting for replicas ${replicas[*]} to acknowledge every write"
  if ! wait_for_catch_up "${replicas[@]}"; then
    resume "Sentinel could promote a replica that lacks acknowledged writes"
    return 0
  fi
  reply=$(sentinel SENTINEL FAILOVER "$SENTINEL_MASTER_NAME")
  if [[ $reply != OK ]]; then
    resume "SENTINEL FAILOVER: $reply"
    return 0
  fi
  log "SENTINEL FAILOVER started $(($(now_ms) - paused_at)) ms after the pause"
  deadline=$(($(now_ms) + PROMOTION_MS))
  while :; do
    master=$(named_master) || master=""
    [[ -z $master || $master == "$NODE_ADDRESS $REDIS_PORT" ]] || break
    if (($(now_ms) >= deadline)); then
      # Writes stay paused until redis-server stops: none may land here now.
      log "the sentinel names no new master within $PROMOTION_MS ms; stopping with writes paused, Sentinel finishes the failover"
      return 0
    fi
    sleep "$POLL_SECONDS"
  done
  new_ip=${master% *} new_port=${master#* }
  log "the sentinel names $new_ip:$new_port as master $(($(now_ms) - paused_at)) ms after the pause"
  # Few redis-cli calls while writes wait: each opens a TLS connection.
  reply=$(printf 'REPLICAOF %s %s\nCONFIG SET repl-ping-replica-period %s\n' "$new_ip" "$new_port" "$REPL_PING_SECONDS" | redis) || true
  demoted=${reply%%$'\n'*}
  attached=no
  # Attached (a partial resync: it holds the same data), this node is a
  # replica the new master counts for min-replicas-to-write, so the first
  # clients that reach it do not get NOREPLICAS while Sentinel moves the
  # other replicas over.
  if [[ $demoted == OK* ]] && wait_until_attached "$new_ip" "$new_port"; then
    attached=yes
  fi
  # The paused writes were never run: closed, the clients send them to the
  # new master. A replica now, this node can take no write: the pause may
  # end (run without a stop, the step only moves the master).
  killed=$({
    printf 'CLIENT KILL TYPE normal\nCLIENT KILL TYPE pubsub\n'
    [[ $demoted != OK* ]] || printf 'CLIENT UNPAUSE\n'
  } | redis) || true
  killed=$(sed -n '1,2p' <<<"$killed" | paste -sd ' ')
  closed_at=$(now_ms)
  if [[ $demoted == OK* ]]; then
    reply=$(redis CONFIG REWRITE)
    log "this node replicates from $new_ip:$new_port (in sync before the clients moved: $attached; redis.conf rewritten: $reply)"
  else
    log "REPLICAOF $new_ip $new_port: $demoted (Sentinel demotes this node when it comes back)"
  fi
  log "closed the clients' connections (normal and pubsub: $killed); writes paused $((closed_at - paused_at)) ms, hand-over done in $(($(now_ms) - started)) ms"
}

on_stop_exit() {
  local status=$?
  ((status == 0)) || log "failed (exit $status): redis-server stops without a hand-over"
  exit 0
}

main() {
  case ${1:-} in
    check) require_command redis-cli "$APT_HINT" ;;
    prepare) ;;
    # The rolling restart's command (a library file) where operators find it.
    start) ln -sfn "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/node-restart.sh" "${REDIS_NODE_SBIN:-/usr/local/sbin}/redis-node-restart" ;;
    stop)
      # Whatever fails here, the stop goes on.
      trap on_stop_exit EXIT
      load_node_env
      : "${REDIS_PORT:?}" "${NODE_ADDRESS:?}" "${NODE_OPS_PASSWORD_FILE:?}"
      [[ -z ${TLS_DIR:-} ]] || TLS_ARGS=(--tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/node.crt" --key "$TLS_DIR/node.key")
      local reason
      if [[ -z ${EXIT_CODE:-} ]] && ! OPS_PASSWORD=$(cat "$NODE_OPS_PASSWORD_FILE" 2>/dev/null); then
        log "cannot read $NODE_OPS_PASSWORD_FILE: stopping without a hand-over"
        return 0
      fi
      reason=$(reason_to_just_stop)
      if [[ -n $reason ]]; then
        log "no hand-over: $reason"
        return 0
      fi
      log "this node is the master: handing the role over before redis-server stops"
      hand_over
      ;;
    *) fail "usage: $0 check|prepare|start|stop" ;;
  esac
}

# Sourced by the tests of its parsing; run by the entry script and by systemd.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
