#!/bin/bash
# aws.sh: reads a value from SSM Parameter Store or Secrets Manager with the
# instance role (curl --aws-sigv4 and IMDSv2, so the image needs no AWS
# CLI). Travels in the user data: the entry script reads the boot library
# with it, the secret-fetch part the node's secrets. Sourced, never run.

[[ -z ${REDIS_NODE_AWS:-} ]] || return 0
readonly REDIS_NODE_AWS=1
# shellcheck source=/dev/null
source "${BASH_SOURCE[0]%/*}/common.sh"

# Endpoints can be pointed elsewhere only for the tests of this script.
readonly IMDS_URL=${REDIS_NODE_IMDS_URL:-http://169.254.169.254}
readonly SECRET_RETRY_SECONDS=${REDIS_NODE_SECRET_RETRY_SECONDS:-3}
IMDS_TOKEN=""
imds() {
  curl -q -sS --fail --max-time 5 -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" "$IMDS_URL/latest/$1"
}

# Prints the key id, secret key and session token of the role's credentials
# document on stdin, one a line: one python3 start instead of three.
credential_fields() {
  python3 -c 'import json, sys
creds = json.load(sys.stdin)
fields = [creds[key] for key in ("AccessKeyId", "SecretAccessKey", "Token")]
if not all(isinstance(f, str) and f and "\n" not in f for f in fields):
    sys.exit(1)
sys.stdout.write("\n".join(fields) + "\n")' 2>/dev/null
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
AWS_REPLY=""
# The instance role's credentials and the instance's region, read from
# instance metadata once and kept for CREDS_KEEP_SECONDS: a boot reads
# a dozen values, and each read of metadata costs four curl starts and a
# python3 start. Kept in shell variables (never exported, never in a file);
# a subshell uses the copy its parent read. 240 s: an IMDSv2 token lives
# 300 s, and IMDS hands out new credentials at least 5 minutes before the
# old ones expire.
readonly CREDS_KEEP_SECONDS=240
CREDS_KEY_ID="" CREDS_SECRET_KEY="" CREDS_SESSION="" CREDS_REGION="" CREDS_READ_AT=0

# Reads (or keeps) the region and the role's credentials; on failure returns
# 1 with the reason in FETCH_ERROR. A caller that reads several values in
# subshells calls it first, so that they share one read.
aws_credentials() {
  local role creds fields
  if [[ -n $CREDS_KEY_ID ]] && ((SECONDS - CREDS_READ_AT < CREDS_KEEP_SECONDS)); then return 0; fi
  CREDS_KEY_ID=""
  IMDS_TOKEN=$(curl -q -sS --fail --max-time 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" \
    "$IMDS_URL/latest/api/token") || { FETCH_ERROR="cannot get an IMDSv2 token"; return 1; }
  CREDS_REGION=$(imds meta-data/placement/region) || { FETCH_ERROR="cannot read the region from instance metadata"; return 1; }
  role=$(imds meta-data/iam/security-credentials/) || { FETCH_ERROR="the instance has no IAM role"; return 1; }
  if ! { creds=$(imds "meta-data/iam/security-credentials/$role") &&
    fields=$(credential_fields <<<"$creds") &&
    { IFS= read -r CREDS_KEY_ID && IFS= read -r CREDS_SECRET_KEY && IFS= read -r CREDS_SESSION; } <<<"$fields"; }; then
    CREDS_KEY_ID=""
    FETCH_ERROR="cannot read the credentials of role $role"
    return 1
  fi
  CREDS_READ_AT=$SECONDS
}

# aws_request SERVICE REGION URL CURL-ARG...: one request signed with the
# credentials aws_credentials read (curl --aws-sigv4, so the image needs no
# AWS CLI; they go to curl through stdin, never on a command line); the
# reply in AWS_REPLY, on failure returns 1 with the reason in FETCH_ERROR.
aws_request() {
  local service=$1 region=$2 url=$3
  shift 3
  if ! AWS_REPLY=$(printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$CREDS_KEY_ID" "$CREDS_SECRET_KEY" "$CREDS_SESSION" |
    curl -q -sS --fail-with-body --max-time 10 --config - --aws-sigv4 "aws:amz:$region:$service" "$@" "$url"); then
    FETCH_ERROR="$service answered: $AWS_REPLY"
    return 1
  fi
}

# aws_json_call SERVICE TARGET BODY [REGION]: one call of an AWS JSON 1.1
# API with the instance role, its reply in AWS_REPLY; on failure returns 1
# with the reason in FETCH_ERROR. REGION defaults to the instance's.
aws_json_call() {
  local service=$1 target=$2 body=$3 region domain=amazonaws.com
  aws_credentials || return 1
  region=${4:-$CREDS_REGION}
  [[ $region == cn-* ]] && domain=amazonaws.com.cn
  aws_request "$service" "$region" "${REDIS_NODE_AWS_ENDPOINT:-https://$service.$region.$domain/}" \
    -H "Content-Type: application/x-amz-json-1.1" -H "X-Amz-Target: $target" --data "$body"
}

# One attempt to print the secret; on failure returns 1 with the reason in FETCH_ERROR.
try_fetch_secret() {
  local store=$1 secret_id=$2 target body service field
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
  aws_json_call "$service" "$target" "$body" || return 1
  # shellcheck disable=SC2086 # field is one or two JSON keys
  json_field $field <<<"$AWS_REPLY" || {
    FETCH_ERROR="the reply has no ${field// /.} (a Secrets Manager secret must hold the password as SecretString)"
    return 1
  }
}

# aws_retry WHAT WHERE COMMAND [ARG...]: runs COMMAND (one attempt, which
# prints nothing unless it succeeds and sets FETCH_ERROR when it fails) up to
# 10 times. Retries everything: a new instance profile can take a few
# seconds to show up in instance metadata and to be usable.
aws_retry() {
  local what=$1 where=$2 attempt
  shift 2
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    "$@" && return 0
    log "reading $what failed (attempt $attempt of 10): $FETCH_ERROR"
    ((attempt < 10)) && sleep "$SECRET_RETRY_SECONDS"
  done
  fail "cannot read $what from $where: $FETCH_ERROR (does the instance role allow it, and does the subnet reach the endpoint?)"
}

# fetch_secret STORE ID [WHAT]: prints the secret.
fetch_secret() {
  aws_retry "${3:-the secret}" "$1 '$2'" try_fetch_secret "$1" "$2"
}
