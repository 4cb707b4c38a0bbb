#!/bin/bash
# Boot part "sentinel-events": Sentinel's failover events to Amazon
# EventBridge, in two halves, since Sentinel (user redis) must not reach
# instance metadata:
# - as Sentinel's notification-script (first argument an event type such as
#   +switch-master, run as redis inside Sentinel's sandbox, where only bash,
#   mv and this file may execute) it spools the event and exits 0 at once;
# - with the argument `send`, run as root by redis-sentinel-events.service
#   (which a path unit starts when the spool changes, and a timer every 2
#   minutes for what a failure left), it signs PutEvents with the instance
#   role and removes what was published.
# At boot it makes the spool and starts the path unit and the timer.
set -euo pipefail
SPOOL=${REDIS_NODE_EVENTS_DIR:-/var/lib/redis-node/events}
# What the spool may hold: the event types published, and the words of
# Sentinel's descriptions of them (names, addresses, ports, "#quorum 2/2").
KINDS='^([+]odown|-odown|[+]switch-master|[+]failover-end)$' WORDS='^[A-Za-z0-9 .:/#@_+-]*$'

# At most 1000 files (a few hundred bytes each), each written in .tmp (not
# watched), then renamed into place whole. Never fails: Sentinel would run it
# again. What it writes, the sender checks.
if [[ ${1:-} == [+-]* ]]; then
  shopt -s nullglob
  spooled=("$SPOOL"/*.event)
  name=${EPOCHREALTIME/[.,]/}-$BASHPID.event
  if [[ $1 =~ $KINDS ]] && ((${#spooled[@]} < 1000)); then
    printf '%s\n' "${EPOCHREALTIME/,/.}" "$1" "${2:-}" >"$SPOOL/.tmp/$name" && mv "$SPOOL/.tmp/$name" "$SPOOL" || echo "sentinel-events: not spooled: $*" >&2
  fi
  exit 0
fi

# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/common.sh"
load_node_env
: "${EVENTS_BUS:?}" "${EVENTS_SOURCE:?}" "${EVENTS_DETAIL_TYPE:?}" "${EVENTS_DETAIL:?}"

# Sets BODY to the PutEvents request for the oldest 10 spool files and NAMES
# to their names. redis owns the spool: a file that is not one the
# notification script wrote (or a symlink, or a day old) is dropped. Every
# value matched KINDS or WORDS, so none needs escaping; the detail is a JSON
# string inside the JSON body, hence its \" quotes. Its fields are the words
# of Sentinel's description, named.
read_spool() {
  local file time kind words i value fields entries="" q='\"'
  local -a word keys
  NAMES=()
  for file in "$SPOOL"/*.event; do
    ((${#NAMES[@]} < 10)) || break
    if [[ -f $file && ! -L $file ]] && { read -r time && read -r kind && read -r words; } <"$file" &&
      [[ $time =~ ^[1-9][0-9]+\.[0-9]+$ && ${time%.*} -gt $((EPOCHSECONDS - 86400)) && $kind =~ $KINDS && $words =~ $WORDS ]]; then
      keys=(role masterName address port)
      [[ $kind != +switch-master ]] || keys=(masterName oldAddress oldPort newAddress newPort)
      read -ra word <<<"$words"
      fields="$EVENTS_DETAIL,${q}event$q:$q$kind$q,${q}message$q:$q$words$q"
      for i in "${!keys[@]}"; do
        value=${word[i]:-}
        [[ $value =~ ^[0-9]+$ ]] || value=$q$value$q
        fields+=",$q${keys[i]}$q:$value"
      done
      entries+="${entries:+,}{\"Source\":\"$EVENTS_SOURCE\",\"DetailType\":\"$EVENTS_DETAIL_TYPE\",\"EventBusName\":\"$EVENTS_BUS\",\"Time\":$time,\"Detail\":\"{$fields}\"}"
      NAMES+=("${file##*/}")
    else
      echo "<4>sentinel-events: dropped ${file##*/}" >&2
      rm -rf -- "$file"
    fi
  done
  BODY="{\"Entries\":[$entries]}"
}

# Publishes the spool 10 entries a call (PutEvents' limit), up to 100 calls
# (the 1000 files the spool takes); stops at the first call that fails: its
# files stay for the next run (the timer's, within 2 minutes; a day at most).
# A call with a refused entry is sent again whole (consumers get every event
# from each sentinel anyway). "<4>": journald's warning level.
send() {
  # aws_json_call (aws.sh, next to common.sh).
  # shellcheck source=/dev/null
  source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/aws.sh"
  shopt -s nullglob
  for _ in $(seq 100); do
    read_spool
    ((${#NAMES[@]})) || return 0
    if ! aws_json_call events AWSEvents.PutEvents "$BODY" || [[ ! $AWS_REPLY =~ \"FailedEntryCount\":\ ?0[,}] ]]; then
      echo "<4>sentinel-events: PutEvents failed: $FETCH_ERROR $AWS_REPLY" >&2
      return 1
    fi
    (cd "$SPOOL" && rm -f -- "${NAMES[@]}")
    echo "<5>sentinel-events: published ${#NAMES[@]} events" >&2
  done
}

case ${1:-} in
  check) ;;
  prepare)
    install -d -m 0750 -o redis -g redis "$SPOOL" "$SPOOL/.tmp"
    ;;
  # Before Sentinel starts, so that no event goes unnoticed.
  start) systemctl enable --no-reload --now redis-sentinel-events.path redis-sentinel-events.timer ;;
  send) send ;;
  *) fail "usage: $0 check|prepare|start|send|<event> <description>" ;;
esac
