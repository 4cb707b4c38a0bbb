#!/bin/bash
# Boot part "planned-failover": systemd runs this step with "stop" before it
# stops redis-server on purpose (ExecStop= of the part's drop-in: systemctl
# stop or restart, a reboot, an instance replacement). On the master it
# hands the role over first, so clients lose about a second and a half of
# writes instead of a failure detection:
#   1. checks (each a reason to just stop): redis-server still runs (systemd
#      runs ExecStop= also after a crash: then the restart delay holds), this
#      node is the master the sentinels name, they see it up and can reach
#      their quorum, and a replica can take over;
#   2. CLIENT PAUSE WRITE: clients' writes wait instead of failing, and
#      nothing is written here that the new master would not have;
#   3. waits (bounded) until every replica Sentinel could promote holds the
#      master's whole stream, so the promoted one holds every write another
#      replica acknowledged (WAIT): acknowledged in ROLE, or, sooner than
#      their once-a-second acknowledgement, its own ROLE says so (asked with
#      the login the sentinels use on the data nodes; see below for a node of
#      dedicated sentinels);
#   4. SENTINEL FAILOVER on this node's sentinel, then waits (bounded) until
#      it names the new master;
#   5. REPLICAOF the new master (rewritten into redis.conf: a restart comes
#      back as a replica and resumes with a partial resync), waits (bounded)
#      until attached, so the new master counts a replica for
#      min-replicas-to-write;
#   6. waits (bounded) until every sentinel that answers names the new
#      master in SENTINEL MASTER too (what redis-py asks): the others do so
#      within a few hundred ms (the leader's hello), this node's sentinel,
#      the failover's leader, only when its failover ends, which it would do
#      at the other replicas' next INFO, up to a second later: a
#      failover-timeout already past (SENTINEL SET, put back at once) ends
#      it now; the value is recorded first (redis.sh's
#      FAILOVER_TIMEOUT_PENDING), so a step killed in between leaves it to
#      the next run on the node (this step, the role decision) to put back;
#   7. closes the clients' connections: their paused writes were never run,
#      and Sentinel-aware clients reconnect through Sentinel to the new
#      master (ioredis sends them again), whichever sentinel they ask first.
#      A client that stayed would get NOREPLICAS or READONLY until Sentinel
#      demoted this node, ~10 s.
# A data node of dedicated sentinels (HANDOVER_USER in node.env) runs no
# sentinel: it asks the last of the group's sentinels (the role decision's
# ROLE_SENTINELS) that answers, as HANDOVER_USER (node-handover, whose
# password the boot fetched; prepare keeps it root only), which may not
# SENTINEL SET, so that sentinel's failover ends on its own, at its next
# INFO of the other replicas (up to 2 s after the promotion). Step 6 waits
# for the other sentinels only: the leader names the new master in
# GET-MASTER-ADDR-BY-NAME (ioredis, Jedis, Lettuce) already; what lags is its
# SENTINEL MASTERS (redis-py), which clients ask the sentinels of their list
# in order for: the last of the list leads for that reason. Such a
# node asks the replicas' ROLE (step 3) as replication, the login it
# replicates with (masterauth in its redis.conf, which rotation keeps
# current); a replica whose ACL predates ROLE for it answers NOPERM, and its
# acknowledgement tells, once a second.
# Redis's own FAILOVER command is not used: Sentinel does not take part in
# it and fails the group over again. Every wait is bounded; the step always
# exits 0, so the stop goes on whatever happens.
set -euo pipefail
shopt -s inherit_errexit
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/redis.sh"

log() {
  echo "planned-failover: $*" >&2
  logger -t redis-planned-failover "$*" 2>/dev/null || true
}

readonly SENTINEL_CONF=${REDIS_NODE_SENTINEL_CONF:-/etc/redis/sentinel.conf}
readonly CLI_TIMEOUT=${REDIS_NODE_CLI_TIMEOUT:-2}
# How long the replicas may take to hold the whole stream (they ack every second).
readonly CATCH_UP_MS=${HANDOVER_CATCH_UP_MS:-1500}
# How long Sentinel may take to name the new master (it sees the promotion in its next INFO, ~1 s).
readonly PROMOTION_MS=${HANDOVER_PROMOTION_MS:-5000}
# How long this node may take to attach to the new master as a replica.
readonly ATTACH_MS=${HANDOVER_ATTACH_MS:-1000}
# How long every sentinel may take to name the new master in SENTINEL MASTER.
readonly SWITCH_MS=${HANDOVER_SWITCH_MS:-1000}
readonly POLL_SECONDS=0.05
# redis.conf leaves repl-ping-replica-period at Redis's default.
readonly REPL_PING_SECONDS=10
readonly OPS_USER=node-ops
TLS_ARGS=()
OPS_PASSWORD=""
# The login the replicas are asked ROLE with: this node's sentinel's on the
# data nodes (auth-user/pass), or with dedicated sentinels replication (the
# masteruser/masterauth of redis.conf); the login on the other sentinels:
# sentinel-user/pass of sentinel.conf, or HANDOVER_USER.
NODE_USER="" NODE_PASSWORD="" PEER_USER="" PEER_PASSWORD=""
# The sentinel's failover-timeout while the step has it shortened (step 6), to put back.
RESTORE_FAILOVER_TIMEOUT=""
FAILOVER_TIMEOUT=""
SHORTENED=""
# Set once the value to put back is in $FAILOVER_TIMEOUT_PENDING (redis.sh):
# only then may step 6 shorten it.
RECORDED=""
OTHER_SENTINELS=()
# A node of dedicated sentinels: HANDOVER_USER's password; no early end (step 6).
REMOTE_PASSWORD=""
EARLY_END=yes
SENTINEL_AT="the sentinel on this node"

# cli HOST PORT USER PASSWORD ARG...: one command, bounded in time.
cli() {
  local host=$1 port=$2 user=$3 password=$4
  shift 4
  REDISCLI_AUTH=$password timeout "$CLI_TIMEOUT" redis-cli "${TLS_ARGS[@]}" -h "$host" -p "$port" --user "$user" --no-auth-warning "$@" 2>&1
}

# Sessions: one redis-cli each, connected and logged in before writes
# pause, so that a command while they wait costs a round trip instead of a
# process and a TLS handshake (hundreds of ms each on a loaded node). Each
# reply ends with the echo of a PING that marks it; a session that is gone
# (or never logged in) leaves its commands to one redis-cli each.
SESSION_DIR=""
SESSION_COUNT=0
declare -A SESSION_LOGIN=() SESSION_IN=() SESSION_OUT=() SESSION_PID=()
readonly MARK=planned-failover-end

# open_sessions NAME=HOST:PORT:USER:PASSWORD...: connects them all at once.
open_sessions() {
  local spec name fifo in out host port user password
  local -a failed
  [[ -n $SESSION_DIR ]] || SESSION_DIR=$(mktemp -d "${TMPDIR:-/tmp}/planned-failover.XXXXXX")
  for spec in "$@"; do
    name=${spec%%=*}
    SESSION_LOGIN[$name]=${spec#*=}
    fifo=$SESSION_DIR/$((SESSION_COUNT++))
    mkfifo "$fifo.in" "$fifo.out"
    IFS=: read -r host port user password <<<"${SESSION_LOGIN[$name]}"
    REDISCLI_AUTH=$password redis-cli "${TLS_ARGS[@]}" -h "$host" -p "$port" --user "$user" --no-auth-warning <"$fifo.in" >"$fifo.out" 2>&1 &
    SESSION_PID[$name]=$!
    exec {in}>"$fifo.in" {out}<"$fifo.out"
    SESSION_IN[$name]=$in SESSION_OUT[$name]=$out
  done
  mapfile -t failed < <(for spec in "$@"; do { [[ $(ask "${spec%%=*}" PING) == PONG ]] || echo "${spec%%=*}"; } & done; wait)
  for name in "${failed[@]}"; do close_session "$name"; done
}

close_session() {
  [[ -n ${SESSION_PID[$1]:-} ]] || return 0
  local in=${SESSION_IN[$1]} out=${SESSION_OUT[$1]}
  kill "${SESSION_PID[$1]}" 2>/dev/null || true
  exec {in}>&- {out}<&-
  unset "SESSION_PID[$1]" "SESSION_IN[$1]" "SESSION_OUT[$1]"
}

close_sessions() {
  local name
  for name in "${!SESSION_PID[@]}"; do close_session "$name"; done
  [[ -z $SESSION_DIR ]] || rm -rf "$SESSION_DIR"
}

# ask NAME ARG...: one command on session NAME (no argument holds a space),
# its reply on stdout, bounded in time. Lines before an earlier command's
# mark are that command's late reply.
ask() {
  local name=$1 mark line host port user password
  local -a reply=()
  shift
  if [[ -n ${SESSION_PID[$name]:-} ]] && kill -0 "${SESSION_PID[$name]}" 2>/dev/null; then
    mark=$MARK-$BASHPID-${EPOCHREALTIME/[.,]/}
    if printf '%s\nPING %s\n' "$*" "$mark" 2>/dev/null 1>&"${SESSION_IN[$name]}"; then
      while IFS= read -r -t "$CLI_TIMEOUT" line <&"${SESSION_OUT[$name]}"; do
        case $line in
          "$mark")
            # (A reader such as head may have gone.)
            printf '%s\n' "${reply[@]}" 2>/dev/null || true
            return 0
            ;;
          "$MARK"-*) reply=() ;;
          # Not connected or not logged in (redis-cli tries again at the next command).
          "Could not connect"* | "AUTH failed"* | NOAUTH*) return 1 ;;
          *) reply+=("$line") ;;
        esac
      done
      return 1
    fi
  fi
  IFS=: read -r host port user password <<<"${SESSION_LOGIN[$name]:?no session $name}"
  cli "$host" "$port" "$user" "$password" "$@"
}

# This node's redis-server and sentinel, as node-ops (its password only root
# on this node holds); with dedicated sentinels, the one that answered first.
redis() { ask redis "$@"; }
sentinel() { ask sentinel "$@"; }

now_ms() { date +%s%3N; }

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

# replica_offset IP:PORT: how much of this node's stream the replica
# processed, from its own ROLE (asked as NODE_USER, whose rules allow ROLE);
# fails unless it replicates from here.
replica_offset() {
  local -a lines
  [[ -n $NODE_USER ]] || return 1
  mapfile -t lines < <(ask "replica-$1" ROLE)
  [[ ${lines[0]:-} == slave && ${lines[1]:-} == "$NODE_ADDRESS" && ${lines[2]:-} == "$REDIS_PORT" && ${lines[4]:-} =~ ^[0-9]+$ ]] || return 1
  echo "${lines[4]}"
}

# Waits until each replica in $@ ("ip:port") holds the master's offset: it
# acknowledged it (ROLE here), or its own ROLE says so. Replicas acknowledge
# once a second; asked, they tell at once.
wait_for_catch_up() {
  local deadline offsets master_offset replica answer
  local -a behind answers
  deadline=$(($(now_ms) + CATCH_UP_MS))
  while :; do
    offsets=$(acknowledged_offsets) || return 1
    master_offset=${offsets%% *}
    behind=()
    for replica in "$@"; do
      [[ " $offsets " == *" $replica=$master_offset "* ]] || behind+=("$replica")
    done
    if ((${#behind[@]} > 0)); then
      # Each asked at the same time; one line each: "ip:port offset".
      mapfile -t answers < <(for replica in "${behind[@]}"; do { echo "$replica $(replica_offset "$replica" || echo none)"; } & done; wait)
      behind=()
      for answer in "${answers[@]}"; do
        [[ ${answer#* } == "$master_offset" ]] || behind+=("${answer%% *}")
      done
    fi
    if ((${#behind[@]} == 0)); then
      log "every promotable replica holds offset $master_offset"
      return 0
    fi
    if (($(now_ms) >= deadline)); then
      log "replicas ${behind[*]} do not hold offset $master_offset within $CATCH_UP_MS ms (ROLE: $offsets)"
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

# field_pair A B: "valueA valueB" from a flat key/value reply on stdin.
field_pair() {
  awk -v a="$1" -v b="$2" 'NR % 2 == 1 { key = $0; next } key == a { va = $0 } key == b { vb = $0 } END { if (va != "") print va, vb }'
}

# The other sentinels ("ip:port" per line), as this node's sentinel knows them.
other_sentinels() {
  sentinel SENTINEL SENTINELS "$SENTINEL_MASTER_NAME" | awk '
    NR % 2 == 1 { key = $0; next }
    key == "ip" { ip = $0 }
    key == "port" { print ip ":" $0 }'
}

# The sentinels that do not name IP PORT in SENTINEL MASTER ("ip:port=what"
# per line): this node's ("local") and each of OTHER_SENTINELS that answers
# (one that does not cannot mislead a client either).
sentinels_behind() {
  local want="$1 $2" peer
  # With no early end (dedicated sentinels) the leader is not waited for: it
  # names IP PORT in GET-MASTER-ADDR-BY-NAME already, in SENTINEL MASTER
  # only when its failover ends on its own.
  [[ -z $EARLY_END || $(sentinel SENTINEL MASTER "$SENTINEL_MASTER_NAME" | field_pair ip port) == "$want" ]] || echo "local"
  [[ -n $PEER_USER ]] || return 0
  for peer in "${OTHER_SENTINELS[@]}"; do
    {
      named=$(ask "sentinel-$peer" SENTINEL MASTER "$SENTINEL_MASTER_NAME" | field_pair ip port) || true
      [[ -z $named || $named == "$want" ]] || echo "$peer=${named/ /:}"
    } &
  done
  wait
}

# Puts back the failover-timeout that step 6 shortened.
restore_failover_timeout() {
  local reply
  [[ -n $RESTORE_FAILOVER_TIMEOUT ]] || return 0
  reply=$(sentinel SENTINEL SET "$SENTINEL_MASTER_NAME" failover-timeout "$RESTORE_FAILOVER_TIMEOUT") || true
  if [[ $reply == OK ]]; then
    RESTORE_FAILOVER_TIMEOUT=""
  else
    log "could not put failover-timeout back to $RESTORE_FAILOVER_TIMEOUT ms: $reply (SENTINEL SET $SENTINEL_MASTER_NAME failover-timeout $RESTORE_FAILOVER_TIMEOUT as admin does)"
  fi
}

# replicas_follow IP PORT REPLICA...: whether every REPLICA ("ip:port") but
# the new master IP:PORT replicates from it, linked (its own ROLE).
replicas_follow() {
  local ip=$1 port=$2 replica
  local -a lines
  shift 2
  for replica in "$@"; do
    [[ $replica != "$ip:$port" ]] || continue
    mapfile -t lines < <(ask "replica-$replica" ROLE)
    [[ ${lines[0]:-} == slave && ${lines[1]:-} == "$ip" && ${lines[2]:-} == "$port" && ${lines[3]:-} == connected ]] || return 1
  done
}

# This node's sentinel led the failover: it changes the address in SENTINEL
# MASTER(S) only when the failover ends, at the other replicas' next INFO
# (up to a second after the promotion); with a failover-timeout already past
# (FAILOVER_TIMEOUT, read before the failover) it ends at its next tick. Only
# once every other replica follows the new master: a failover that ends
# drops the REPLICAOF it has not sent yet, and Sentinel would fix such a
# replica only failover-timeout later.
end_failover_now() {
  SHORTENED=yes
  [[ -n $RECORDED ]] || return 0
  RESTORE_FAILOVER_TIMEOUT=$FAILOVER_TIMEOUT
  [[ $(sentinel SENTINEL SET "$SENTINEL_MASTER_NAME" failover-timeout 1) == OK ]] || { RESTORE_FAILOVER_TIMEOUT=""; return 0; }
  # The tests' stand-in for a step killed right here (set by them only).
  [[ -z ${HANDOVER_TEST_SLEEP_AFTER_SHORTEN:-} ]] || { log "test hook: failover-timeout is 1 ms, sleeping ${HANDOVER_TEST_SLEEP_AFTER_SHORTEN} s"; sleep "$HANDOVER_TEST_SLEEP_AFTER_SHORTEN"; }
}

# wait_until_named IP PORT REPLICA...: waits (bounded) until every sentinel
# that answers names IP PORT in SENTINEL MASTER; ends this node's sentinel's
# failover once the REPLICAs follow IP PORT, and puts its failover-timeout
# back once it names IP PORT.
wait_until_named() {
  local deadline behind
  deadline=$(($(now_ms) + SWITCH_MS))
  while :; do
    if [[ -n $EARLY_END && -z $SHORTENED ]] && replicas_follow "$@"; then end_failover_now; fi
    behind=$(sentinels_behind "$1" "$2" | paste -sd ' ')
    [[ $behind == *local* ]] || restore_failover_timeout
    [[ -n $behind ]] || return 0
    if (($(now_ms) >= deadline)); then
      log "sentinels still naming another master after $SWITCH_MS ms: $behind"
      return 1
    fi
    sleep "$POLL_SECONDS"
  done
}

# Why this node should not hand over (empty: it should), from the checks of step 1.
reason_to_just_stop() {
  local role master state flags quorum
  if [[ -n ${EXIT_CODE:-} ]]; then
    echo "redis-server is gone ($EXIT_CODE ${EXIT_STATUS:-}): a crash, not a stop; Sentinel fails over after down-after-milliseconds and the restart delay holds this node down until then"
    return
  fi
  [[ -n ${SESSION_LOGIN[sentinel]:-} ]] || { echo "no sentinel to ask: none runs on this node${HANDOVER_USER:+, and none of the sentinels (${ROLE_SENTINELS:-}) answered as $HANDOVER_USER}"; return; }
  role=$(redis ROLE | head -n 1) || true
  case $role in
    master) ;;
    slave) echo "this node is a replica: nothing to hand over"; return ;;
    *) echo "redis-server does not answer ROLE: ${role:-no reply}"; return ;;
  esac
  master=$(named_master) || { echo "$SENTINEL_AT names no master"; return; }
  [[ $master == "$NODE_ADDRESS $REDIS_PORT" ]] || { echo "the sentinels name ${master/ /:} as master, not this node: nothing to hand over"; return; }
  state=$(sentinel SENTINEL MASTER "$SENTINEL_MASTER_NAME") || true
  flags=$(field flags <<<"$state")
  [[ -n $flags ]] || { echo "$SENTINEL_AT did not answer SENTINEL MASTER within ${CLI_TIMEOUT} s (${state:-no reply})"; return; }
  [[ $flags == master ]] || { echo "$SENTINEL_AT flags this master '$flags' (down, or a failover runs): Sentinel handles it"; return; }
  [[ $(sentinel INFO sentinel) == *sentinel_tilt:0* ]] || { echo "$SENTINEL_AT is in TILT mode (its timer stalled) and would not act for up to 30 s"; return; }
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
  local started paused_at reply deadline master new_ip new_port killed demoted attached everywhere closed_at replica peer
  local -a replicas
  started=$(now_ms)
  mapfile -t replicas < <(promotable_replicas | tr ' ' ':')
  mapfile -t OTHER_SENTINELS < <(other_sentinels)
  FAILOVER_TIMEOUT=$(sentinel SENTINEL MASTER "$SENTINEL_MASTER_NAME" | field failover-timeout) || true
  # Recorded before writes pause: a step killed while the value is short
  # leaves it to the next run on this node, which puts it back.
  if [[ -n $EARLY_END && $FAILOVER_TIMEOUT =~ ^[0-9]+$ ]] && ((FAILOVER_TIMEOUT > 1)); then
    if record_failover_timeout "$SENTINEL_MASTER_NAME" "$FAILOVER_TIMEOUT"; then
      RECORDED=yes
    else
      log "cannot write $FAILOVER_TIMEOUT_PENDING: the sentinel's failover-timeout stays $FAILOVER_TIMEOUT ms (its failover ends on its own, up to a second later)"
    fi
  fi
  # Connected now, so that asking them while writes wait is quick.
  local -a logins=()
  [[ -z $NODE_USER ]] || for replica in "${replicas[@]}"; do logins+=("replica-$replica=${replica%:*}:${replica##*:}:$NODE_USER:$NODE_PASSWORD"); done
  [[ -z $PEER_USER ]] || for peer in "${OTHER_SENTINELS[@]}"; do logins+=("sentinel-$peer=${peer%:*}:${peer##*:}:$PEER_USER:$PEER_PASSWORD"); done
  ((${#logins[@]} == 0)) || open_sessions "${logins[@]}"
  # The master pings its replicas through the replication stream even while
  # clients are paused: a ping that reaches the other replicas after the
  # promotion puts them past the new master, which then makes them (and this
  # node) resync in full, and refuses writes meanwhile (NOREPLICAS).
  redis CONFIG SET repl-ping-replica-period 3600 >/dev/null
  # Longer than every bounded wait below: the pause ends when redis-server stops.
  reply=$(redis CLIENT PAUSE $((CATCH_UP_MS + PROMOTION_MS + 5000)) WRITE)
  [[ $reply == OK ]] || { resume "CLIENT PAUSE WRITE: $reply"; return 0; }
  paused_at=$(now_ms)
  log "writes paused; waiting for replicas ${replicas[*]} to hold every write"
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
  demoted=$(redis REPLICAOF "$new_ip" "$new_port" | head -n 1) || true
  redis CONFIG SET repl-ping-replica-period "$REPL_PING_SECONDS" >/dev/null || true
  attached=no
  # Attached (a partial resync: it holds the same data), this node is a
  # replica the new master counts for min-replicas-to-write, so the first
  # clients that reach it do not get NOREPLICAS while Sentinel moves the
  # other replicas over.
  if [[ $demoted == OK* ]] && wait_until_attached "$new_ip" "$new_port"; then
    attached=yes
  fi
  # Whichever sentinel a client asks first, it names the new master.
  if wait_until_named "$new_ip" "$new_port" "${replicas[@]}"; then
    everywhere="yes, $(($(now_ms) - paused_at)) ms after the pause"
  else
    everywhere=no
  fi
  restore_failover_timeout
  # The paused writes were never run: closed, the clients send them to the
  # new master. A replica now, this node can take no write: the pause may
  # end (run without a stop, the step only moves the master).
  killed="$(redis CLIENT KILL TYPE normal) $(redis CLIENT KILL TYPE pubsub)" || true
  [[ $demoted != OK* ]] || redis CLIENT UNPAUSE >/dev/null || true
  closed_at=$(now_ms)
  if [[ $demoted == OK* ]]; then
    reply=$(redis CONFIG REWRITE)
    log "this node replicates from $new_ip:$new_port (in sync before the clients moved: $attached; every sentinel$([[ -n $EARLY_END ]] || echo " but the leader") named it: $everywhere; redis.conf rewritten: $reply)"
  else
    log "REPLICAOF $new_ip $new_port: $demoted (Sentinel demotes this node when it comes back)"
  fi
  log "closed the clients' connections (normal and pubsub: $killed); writes paused $((closed_at - paused_at)) ms, hand-over done in $(($(now_ms) - started)) ms"
}

# Dedicated sentinels: the last of ROLE_SENTINELS that answers as
# HANDOVER_USER is "sentinel" (bounded: CLI_TIMEOUT each); none: no session.
choose_remote_sentinel() {
  local address i
  local -a addresses
  read -r -a addresses <<<"${ROLE_SENTINELS:-}"
  for ((i = ${#addresses[@]} - 1; i >= 0; i--)); do
    address=${addresses[i]}
    open_sessions "sentinel=$address:$ROLE_SENTINEL_PORT:$HANDOVER_USER:$REMOTE_PASSWORD"
    if [[ -n ${SESSION_PID[sentinel]:-} ]]; then
      SENTINEL_AT="the sentinel at $address:$ROLE_SENTINEL_PORT"
      return 0
    fi
    log "the sentinel at $address:$ROLE_SENTINEL_PORT does not answer as $HANDOVER_USER"
  done
  unset "SESSION_LOGIN[sentinel]"
}

on_stop_exit() {
  local status=$?
  restore_failover_timeout
  if [[ -n $RESTORE_FAILOVER_TIMEOUT ]]; then
    log "kept $FAILOVER_TIMEOUT_PENDING: the next run on this node (this step, the role decision when redis-server starts) puts failover-timeout back"
  elif [[ -n $RECORDED ]]; then
    rm -f "$FAILOVER_TIMEOUT_PENDING"
  fi
  close_sessions
  ((status == 0)) || log "failed (exit $status): redis-server stops without a hand-over"
  exit 0
}

main() {
  case ${1:-} in
    check) require_command redis-cli "$APT_HINT" ;;
    # The login on dedicated sentinels outlives the boot's secrets.
    prepare)
      load_node_env
      [[ -z ${HANDOVER_USER:-} ]] || keep_password "$HANDOVER_USER" "${HANDOVER_PASSWORD_FILE:?node.env names HANDOVER_USER but no HANDOVER_PASSWORD_FILE}"
      ;;
    # The rolling restart's command (a library file) where operators find it;
    # on a node of dedicated sentinels it asks them as HANDOVER_USER.
    start) ln -sfn "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/node-restart.sh" "${REDIS_NODE_SBIN:-/usr/local/sbin}/redis-node-restart" ;;
    stop)
      # Whatever fails here, the stop goes on.
      trap on_stop_exit EXIT
      # Stopped itself (systemd's stop timeout), it still puts the failover-timeout back.
      trap 'exit 143' TERM INT
      load_node_env
      : "${REDIS_PORT:?}" "${NODE_ADDRESS:?}" "${NODE_OPS_PASSWORD_FILE:?}"
      [[ -z ${TLS_DIR:-} ]] || TLS_ARGS=(--tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/node.crt" --key "$TLS_DIR/node.key")
      local reason
      if ! OPS_PASSWORD=$(cat "$NODE_OPS_PASSWORD_FILE" 2>/dev/null) && [[ -z ${EXIT_CODE:-} ]]; then
        log "cannot read $NODE_OPS_PASSWORD_FILE: stopping without a hand-over"
        return 0
      fi
      if [[ -z ${HANDOVER_USER:-} && -r $SENTINEL_CONF ]]; then
        NODE_USER=$(sentinel_conf_setting "$SENTINEL_CONF" "auth-user $SENTINEL_MASTER_NAME")
        NODE_PASSWORD=$(sentinel_conf_setting "$SENTINEL_CONF" "auth-pass $SENTINEL_MASTER_NAME")
        PEER_USER=$(sentinel_conf_setting "$SENTINEL_CONF" sentinel-user)
        PEER_PASSWORD=$(sentinel_conf_setting "$SENTINEL_CONF" sentinel-pass)
      elif [[ -n ${HANDOVER_USER:-} ]]; then
        EARLY_END=""
        SENTINEL_MASTER_NAME=${SENTINEL_MASTER_NAME:-${ROLE_MASTER_NAME:?}}
        if ! REMOTE_PASSWORD=$(cat "${HANDOVER_PASSWORD_FILE:?}" 2>/dev/null) && [[ -z ${EXIT_CODE:-} ]]; then
          log "cannot read $HANDOVER_PASSWORD_FILE: stopping without a hand-over"
          return 0
        fi
        # The other sentinels' SENTINEL MASTER (step 6), with the same login.
        PEER_USER=$HANDOVER_USER PEER_PASSWORD=$REMOTE_PASSWORD
        # The replicas' ROLE (step 3): none when redis.conf cannot be read.
        replication_login
        NODE_USER=$REPLICATION_USER NODE_PASSWORD=$REPLICATION_PASSWORD
      fi
      # A write to a session whose redis-cli is gone fails instead of ending the step.
      trap '' PIPE
      [[ -n ${EXIT_CODE:-} ]] || open_sessions "redis=127.0.0.1:$REDIS_PORT:$OPS_USER:$OPS_PASSWORD" ${SENTINEL_PORT:+"sentinel=127.0.0.1:$SENTINEL_PORT:$OPS_USER:$OPS_PASSWORD"}
      [[ -n ${EXIT_CODE:-} || -z ${HANDOVER_USER:-} ]] || choose_remote_sentinel
      # A run killed while failover-timeout was short (after a crash too:
      # Sentinel fails over now, maybe led by this node's sentinel).
      if [[ -n ${SENTINEL_PORT:-} && -f $FAILOVER_TIMEOUT_PENDING ]]; then
        SESSION_LOGIN[sentinel]=127.0.0.1:$SENTINEL_PORT:$OPS_USER:$OPS_PASSWORD
        restore_failover_timeout_left sentinel
      fi
      reason=$(reason_to_just_stop)
      if [[ -n $reason ]]; then
        log "no hand-over: $reason"
        return 0
      fi
      log "this node is the master: handing the role over${HANDOVER_USER:+ through $SENTINEL_AT (as $HANDOVER_USER)} before redis-server stops"
      hand_over
      ;;
    *) fail "usage: $0 check|prepare|start|stop" ;;
  esac
}

# Sourced by the tests of its parsing; run by the entry script and by systemd.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
