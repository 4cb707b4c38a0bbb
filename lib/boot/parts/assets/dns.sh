#!/bin/bash
# Boot part "dns": the group's writer and reader names in a Route 53
# private hosted zone, in two halves, since Sentinel (user redis) must not
# reach instance metadata:
# - as Sentinel's client-reconfig-script (7 arguments: master name, role,
#   state, from-ip, from-port, to-ip, to-port; run as redis inside
#   Sentinel's sandbox, where only bash, mv and this file may execute) it
#   leaves the new master's address in the trigger directory and exits 0;
# - with the argument `update`, run as root by redis-dns.service (a path
#   unit starts it when a trigger arrives, a timer every minute), it points
#   the writer name at the master this node's sentinel names, but only once
#   that node answers ROLE as master, and the reader name at the replicas
#   the sentinel sees healthy. A trigger whose address is not the master the
#   sentinel names now (a stale event) changes nothing. Each name is read
#   back first (ListResourceRecordSets) and written (UPSERT) only when it
#   differs: every sentinel runs this, each write is the same.
# At boot it makes the trigger directory and starts the path unit and timer.
set -euo pipefail
TRIGGERS=${REDIS_NODE_DNS_DIR:-/var/lib/redis-node/dns}
IPV4='^([0-9]{1,3}\.){3}[0-9]{1,3}$'

# Never fails: Sentinel would run it again. What it writes, update checks.
if (($# == 7)); then
  shopt -s nullglob
  waiting=("$TRIGGERS"/*.switch)
  name=${EPOCHREALTIME/[.,]/}-$BASHPID.switch
  if [[ $6 =~ $IPV4 && $7 =~ ^[0-9]{1,5}$ ]] && ((${#waiting[@]} < 100)); then
    printf '%s %s\n' "$6" "$7" >"$TRIGGERS/.tmp/$name" && mv "$TRIGGERS/.tmp/$name" "$TRIGGERS" || echo "dns: not recorded: $*" >&2
  fi
  exit 0
fi

# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/redis.sh"
readonly DNS_SENTINEL_CONF=${REDIS_NODE_SENTINEL_CONF:-/etc/redis/sentinel.conf}
readonly CLI_TIMEOUT=${REDIS_NODE_CLI_TIMEOUT:-3}
# journald levels: warning, notice (the unit logs nothing below notice).
warn() { echo "<4>dns: $*" >&2; }
note() { echo "<5>dns: $*" >&2; }
TLS_ARGS=()
CURRENT=""

# cli HOST PORT USER PASSWORD ARG...: one command, bounded in time.
cli() {
  local host=$1 port=$2 user=$3 password=$4
  shift 4
  REDISCLI_AUTH=$password timeout "$CLI_TIMEOUT" redis-cli "${TLS_ARGS[@]}" -h "$host" -p "$port" --user "$user" --no-auth-warning "$@" 2>&1
}
# This node's sentinel, as node-ops (its password only root on this node holds).
sentinel() { cli 127.0.0.1 "$SENTINEL_PORT" node-ops "$OPS_PASSWORD" "$@"; }

# "ip port" of the master this node's sentinel names.
named_master() {
  local -a lines
  mapfile -t lines < <(sentinel SENTINEL GET-MASTER-ADDR-BY-NAME "$SENTINEL_MASTER_NAME")
  [[ ${#lines[@]} -eq 2 && ${lines[0]} =~ $IPV4 && ${lines[1]} =~ ^[0-9]+$ ]] || return 1
  echo "${lines[0]} ${lines[1]}"
}

# Whether IP PORT answers ROLE as master, asked with the login the sentinels
# use on the data nodes (its user may run ROLE; nothing is added for this).
is_master() {
  local user password
  user=$(sentinel_conf_setting "$DNS_SENTINEL_CONF" "auth-user $SENTINEL_MASTER_NAME")
  password=$(sentinel_conf_setting "$DNS_SENTINEL_CONF" "auth-pass $SENTINEL_MASTER_NAME")
  [[ $(cli "$1" "$2" "$user" "$password" ROLE | head -n 1) == master ]]
}

# The replicas of IP the sentinel sees healthy, sorted, one a line: flags
# exactly "slave" (not s_down, o_down or disconnected), link to IP up.
healthy_replicas() {
  sentinel SENTINEL REPLICAS "$SENTINEL_MASTER_NAME" | awk -v master="$1" '
    function flush() { if (ip != "" && flags == "slave" && link == "ok" && host == master) print ip; ip = flags = link = host = "" }
    NR % 2 == 1 { key = $0; next }
    key == "name" { flush() }
    key == "ip" { ip = $0 }
    key == "flags" { flags = $0 }
    key == "master-link-status" { link = $0 }
    key == "master-host" { host = $0 }
    END { flush() }' | sort -t . -k1,1n -k2,2n -k3,3n -k4,4n
}

# Route 53 is global: one endpoint and signing region per partition.
route53_endpoint() {
  case $CREDS_REGION in
    cn-*) R53_REGION=cn-northwest-1 R53_URL=https://route53.amazonaws.com.cn ;;
    us-gov-*) R53_REGION=us-gov-west-1 R53_URL=https://route53.us-gov.amazonaws.com ;;
    *) R53_REGION=us-east-1 R53_URL=https://route53.amazonaws.com ;;
  esac
  R53_URL=${REDIS_NODE_ROUTE53_ENDPOINT:-$R53_URL}/2013-04-01/hostedzone/$DNS_ZONE_ID/rrset
}

# CURRENT: the A record of NAME as Route 53 holds it, its addresses sorted,
# space separated. The query in sorted order: curl 7.88 (Debian 12) signs
# it as written, SigV4 wants it sorted.
read_record() {
  aws_request route53 "$R53_REGION" "$R53_URL?maxitems=1&name=$1.&type=A" || return 1
  CURRENT=$(python3 -c 'import sys, xml.etree.ElementTree as ET
ns = {"r": "https://route53.amazonaws.com/doc/2013-04-01/"}
name = sys.argv[1]
for rrset in ET.fromstring(sys.stdin.read()).iterfind("r:ResourceRecordSets/r:ResourceRecordSet", ns):
    if rrset.findtext("r:Name", "", ns).rstrip(".").lower() == name and rrset.findtext("r:Type", "", ns) == "A":
        values = [v.text for v in rrset.iterfind("r:ResourceRecords/r:ResourceRecord/r:Value", ns)]
        print(" ".join(sorted(values, key=lambda a: tuple(int(o) for o in a.split(".")))))
    break' "$1" <<<"$AWS_REPLY") || { FETCH_ERROR="cannot read the reply: $AWS_REPLY"; return 1; }
}

# One UPSERT change of NAME to the addresses in $2..
change_xml() {
  local name=$1 address records=""
  shift
  for address in "$@"; do records+="<ResourceRecord><Value>$address</Value></ResourceRecord>"; done
  printf '<Change><Action>UPSERT</Action><ResourceRecordSet><Name>%s.</Name><Type>A</Type><TTL>%s</TTL><ResourceRecords>%s</ResourceRecords></ResourceRecordSet></Change>' \
    "$name" "$DNS_TTL" "$records"
}

update() {
  local master="" ip port file to stale=0 matched=false verified=false changes=""
  local -a triggers readers
  load_node_env
  : "${DNS_ZONE_ID:?}" "${DNS_WRITER_NAME:?}" "${DNS_READER_NAME:?}" "${DNS_TTL:?}" "${SENTINEL_PORT:?}" "${SENTINEL_MASTER_NAME:?}" "${NODE_OPS_PASSWORD_FILE:?}"
  [[ -z ${TLS_DIR:-} ]] || TLS_ARGS=(--tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/node.crt" --key "$TLS_DIR/node.key")
  OPS_PASSWORD=$(<"$NODE_OPS_PASSWORD_FILE")
  master=$(named_master) || { warn "the sentinel on this node names no master of $SENTINEL_MASTER_NAME: nothing changed"; return 1; }
  read -r ip port <<<"$master"
  # Each trigger is read once: a stale one is dropped, a failed write is the timer's to retry.
  shopt -s nullglob
  triggers=("$TRIGGERS"/*.switch)
  for file in "${triggers[@]}"; do
    to=$(head -c 64 "$file" 2>/dev/null) || to=""
    rm -f -- "$file"
    if [[ $to == "$ip $port" ]]; then matched=true; else stale=$((stale + 1)); fi
  done
  ((stale == 0)) || note "$stale event(s) name another master than the sentinel's $ip:$port now: ignored"
  # Only triggers that all were stale leave the writer alone; the timer's run has none.
  if ((${#triggers[@]} == 0)) || [[ $matched == true ]]; then
    if is_master "$ip" "$port"; then
      verified=true
    else
      warn "the sentinel names $ip:$port, which does not answer ROLE as master (yet): the writer name stays"
    fi
  fi
  mapfile -t readers < <(healthy_replicas "$ip")
  # Never an empty reader name: with no healthy replica, reads go to the master.
  if ((${#readers[@]} == 0)) && [[ $verified == true ]]; then readers=("$ip"); fi

  # shellcheck source=/dev/null
  source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/aws.sh"
  aws_credentials || { warn "$FETCH_ERROR"; return 1; }
  route53_endpoint
  # After a switch (a trigger named the master) the names are written at
  # once: the read-backs would double the calls and the time to the new
  # writer. The timer's runs read back first and write only what differs.
  if [[ $verified == true ]]; then
    CURRENT=""
    [[ $matched == true ]] || read_record "$DNS_WRITER_NAME" || { warn "reading $DNS_WRITER_NAME: $FETCH_ERROR"; return 1; }
    [[ $CURRENT == "$ip" ]] || changes+=$(change_xml "$DNS_WRITER_NAME" "$ip")
  fi
  if ((${#readers[@]} > 0)); then
    CURRENT=""
    [[ $matched == true ]] || read_record "$DNS_READER_NAME" || { warn "reading $DNS_READER_NAME: $FETCH_ERROR"; return 1; }
    [[ $CURRENT == "${readers[*]}" ]] || changes+=$(change_xml "$DNS_READER_NAME" "${readers[@]}")
  fi
  [[ -n $changes ]] || return 0
  if ! aws_request route53 "$R53_REGION" "$R53_URL" -H "Content-Type: application/xml" --data-binary \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ChangeResourceRecordSetsRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><ChangeBatch><Comment>redis-node dns</Comment><Changes>$changes</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"; then
    warn "ChangeResourceRecordSets failed: $FETCH_ERROR"
    return 1
  fi
  note "updated:$([[ $changes != *"$DNS_WRITER_NAME."* ]] || echo " $DNS_WRITER_NAME -> $ip")$([[ $changes != *"$DNS_READER_NAME."* ]] || echo " $DNS_READER_NAME -> ${readers[*]}")"
}

case ${1:-} in
  check) require_command redis-cli "$APT_HINT" ;;
  prepare)
    install -d -m 0750 -o redis -g redis "$TRIGGERS" "$TRIGGERS/.tmp"
    ;;
  # Before Sentinel starts, so that no failover goes unnoticed.
  start) systemctl enable --no-reload --now redis-dns.path redis-dns.timer ;;
  update) update ;;
  *) fail "usage: $0 check|prepare|start|update|<master-name> <role> <state> <from-ip> <from-port> <to-ip> <to-port>" ;;
esac
