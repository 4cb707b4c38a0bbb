#!/bin/bash
# redis-node-setup: first-boot setup of a Redis node, run once by cloud-init.
# Reads /etc/redis-node/node.env, fetches the Redis password from SSM
# Parameter Store or Secrets Manager with the instance role, renders
# redis.conf / sentinel.conf from their templates and starts the services.
# It never re-renders a config file that exists: Redis and Sentinel rewrite
# their own files after a failover, and those rewrites must survive.
set -euo pipefail

readonly NODE_ENV=${REDIS_NODE_ENV:-/etc/redis-node/node.env}
readonly TEMPLATE_DIR=${REDIS_NODE_TEMPLATE_DIR:-/etc/redis-node}
readonly DONE_MARKER=/var/lib/redis-node/setup-done
readonly PLACEHOLDER='@@REDIS_PASSWORD@@'
# Endpoints can be pointed elsewhere only for the tests of this script.
readonly IMDS_URL=${REDIS_NODE_IMDS_URL:-http://169.254.169.254}
readonly SECRET_RETRY_SECONDS=${REDIS_NODE_SECRET_RETRY_SECONDS:-3}
IMDS_TOKEN=""

log() { echo "redis-node-setup: $*" >&2; }
fail() {
  echo "redis-node-setup: ERROR: $*" >&2
  logger -t redis-node-setup "ERROR: $*" 2>/dev/null || true
  exit 1
}

require_command() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed; $2"
}

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

imds() {
  curl -q -sS --fail --max-time 5 -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" "$IMDS_URL/latest/$1"
}

# Prints one field of the JSON document on stdin, as UTF-8 bytes.
json_field() {
  python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1:]:
    value = value[key]
sys.stdout.buffer.write(value.encode())' "$@" 2>/dev/null
}

FETCH_ERROR=""

# One attempt to print the secret; on failure returns 1 with the reason in
# FETCH_ERROR. Signs the API call with the instance role's credentials (curl
# --aws-sigv4), so the image needs no AWS CLI. Credentials go to curl
# through stdin, never on a command line.
try_fetch_secret() {
  local store=$1 secret_id=$2 region role creds key_id secret_key session target body service field domain response
  IMDS_TOKEN=$(curl -q -sS --fail --max-time 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" \
    "$IMDS_URL/latest/api/token") || { FETCH_ERROR="cannot get an IMDSv2 token"; return 1; }
  region=$(imds meta-data/placement/region) || { FETCH_ERROR="cannot read the region from instance metadata"; return 1; }
  role=$(imds meta-data/iam/security-credentials/) || { FETCH_ERROR="the instance has no IAM role"; return 1; }
  if ! { creds=$(imds "meta-data/iam/security-credentials/$role") &&
    key_id=$(json_field AccessKeyId <<<"$creds") &&
    secret_key=$(json_field SecretAccessKey <<<"$creds") &&
    session=$(json_field Token <<<"$creds"); }; then
    FETCH_ERROR="cannot read the credentials of role $role"
    return 1
  fi
  case $store in
    ssm)
      service=ssm target=AmazonSSM.GetParameter field="Parameter Value"
      body=$(printf '{"Name":"%s","WithDecryption":true}' "$secret_id")
      ;;
    secretsmanager)
      service=secretsmanager target=secretsmanager.GetSecretValue field=SecretString
      body=$(printf '{"SecretId":"%s"}' "$secret_id")
      ;;
    *) fail "unknown secret store '$store'" ;;
  esac
  domain=amazonaws.com
  [[ $region == cn-* ]] && domain=amazonaws.com.cn
  local endpoint=${REDIS_NODE_SECRET_ENDPOINT:-https://$service.$region.$domain/}
  if ! response=$(printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$key_id" "$secret_key" "$session" |
    curl -q -sS --fail-with-body --max-time 10 --config - \
      --aws-sigv4 "aws:amz:$region:$service" \
      -H "Content-Type: application/x-amz-json-1.1" -H "X-Amz-Target: $target" \
      --data "$body" "$endpoint"); then
    FETCH_ERROR="$service answered: $response"
    return 1
  fi
  # shellcheck disable=SC2086 # field is one or two JSON keys
  json_field $field <<<"$response" || {
    FETCH_ERROR="the reply has no ${field// /.} (a Secrets Manager secret must hold the password as SecretString)"
    return 1
  }
}

# Prints the secret. Retries everything: a new instance profile can take a
# few seconds to show up in instance metadata and to be usable.
fetch_secret() {
  local store=$1 secret_id=$2 attempt
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    try_fetch_secret "$store" "$secret_id" && return 0
    log "reading the Redis password failed (attempt $attempt of 10): $FETCH_ERROR"
    ((attempt < 10)) && sleep "$SECRET_RETRY_SECONDS"
  done
  fail "cannot read the Redis password from $store '$secret_id': $FETCH_ERROR (does the instance role allow it, and does the subnet reach the endpoint?)"
}

# render_template TEMPLATE DEST PASSWORD_FILE
# Writes TEMPLATE to DEST with the placeholder replaced by the password,
# escaped for a double-quoted redis.conf string.
render_template() {
  local template=$1 dest=$2 password escaped content
  password=$(<"$3")
  [[ -n $password ]] || fail "the Redis password is empty"
  if [[ $password == *[[:cntrl:]]* ]]; then
    fail "the Redis password contains control characters (newline, tab, ...); store one without them"
  fi
  escaped=${password//\\/\\\\}
  escaped=${escaped//\"/\\\"}
  content=$(<"$template")
  content=${content//"$PLACEHOLDER"/"$escaped"}
  (umask 077 && printf '%s\n' "$content" >"$dest")
}

# Waits (bounded) until redis-cli PING on the port answers PONG.
wait_for_pong() {
  local port=$1 attempt
  for attempt in $(seq 1 30); do
    if [[ $(redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning ping 2>/dev/null) == PONG ]]; then
      log "port $port answers PING (attempt $attempt)"
      return 0
    fi
    sleep 1
  done
  return 1
}

start_service() {
  local unit=$1 port=$2 log_file=$3
  systemctl enable "$unit"
  systemctl restart "$unit"
  if ! REDISCLI_AUTH=$(<"$PASSWORD_FILE") wait_for_pong "$port"; then
    tail -n 30 "$log_file" >&2 || true
    fail "$unit does not answer on port $port after 30 s"
  fi
}

install_config() {
  local name=$1
  local dest="/etc/redis/$name"
  if [[ -f $DONE_MARKER ]]; then
    log "keeping $dest: setup already ran on this node"
    return 0
  fi
  render_template "$TEMPLATE_DIR/$name.template" "$dest" "$PASSWORD_FILE"
  chown redis:redis "$dest"
  chmod 0640 "$dest"
}

main() {
  # shellcheck source=/dev/null
  source "$NODE_ENV"
  : "${REDIS_SECRET_STORE:?}" "${REDIS_SECRET_ID:?}" "${RUN_REDIS_SERVER:?}" "${RUN_SENTINEL:?}"
  : "${REDIS_PORT:?}" "${SENTINEL_PORT:?}" "${MIN_REDIS_MAJOR:?}"

  local hint="apt could not install it: does the subnet have a route to a package mirror (NAT gateway)?"
  require_command curl "$hint"
  require_command python3 "$hint"
  require_command redis-cli "$hint"
  if [[ $RUN_REDIS_SERVER == yes ]]; then
    require_command redis-server "$hint"
    check_redis_version redis-server "$MIN_REDIS_MAJOR"
  fi
  if [[ $RUN_SENTINEL == yes ]]; then
    require_command redis-sentinel "$hint"
    check_redis_version redis-sentinel "$MIN_REDIS_MAJOR"
  fi

  # The packages start their services with stock settings; stop them first.
  systemctl stop redis-sentinel.service redis-server.service 2>/dev/null || true

  sysctl -p /etc/sysctl.d/60-redis.conf
  systemctl daemon-reload
  systemctl enable --now redis-disable-thp.service
  [[ $(cat /sys/kernel/mm/transparent_hugepage/enabled) == *"[never]"* ]] ||
    fail "transparent huge pages are still enabled"

  mkdir -p /run/redis-node /var/lib/redis-node
  PASSWORD_FILE=/run/redis-node/password
  trap 'rm -f "$PASSWORD_FILE"' EXIT
  (umask 077 && fetch_secret "$REDIS_SECRET_STORE" "$REDIS_SECRET_ID" >"$PASSWORD_FILE")

  if [[ $RUN_REDIS_SERVER == yes ]]; then
    install_config redis.conf
    start_service redis-server.service "$REDIS_PORT" /var/log/redis/redis-server.log
  else
    systemctl disable --now redis-server.service 2>/dev/null || true
  fi
  if [[ $RUN_SENTINEL == yes ]]; then
    install_config sentinel.conf
    start_service redis-sentinel.service "$SENTINEL_PORT" /var/log/redis/redis-sentinel.log
  else
    systemctl disable --now redis-sentinel.service 2>/dev/null || true
  fi

  rm -f "$TEMPLATE_DIR"/*.template
  touch "$DONE_MARKER"
  log "done"
}

PASSWORD_FILE=""
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
