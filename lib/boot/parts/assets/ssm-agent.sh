#!/bin/bash
# Boot part "ssm-agent": the SSM agent, the node's way in (Session Manager:
# no SSH key, no open port) and what monitoring's associations run on.
# Ubuntu's images carry it (a snap), Debian's do not. When no agent unit is
# installed, this step downloads AWS's package for Debian from the region's
# own S3 endpoint over HTTPS only (as AWS documents for Debian), checks that
# the file is that package for this architecture, installs it with apt-get
# and starts it. It runs in the start phase, after Redis and Sentinel are up,
# and a failure leaves a WARNING, never a failed boot: Redis does not need
# the agent.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/aws.sh"

readonly AGENT_PACKAGE=amazon-ssm-agent
readonly AGENT_UNIT=amazon-ssm-agent.service
# Ubuntu's snap.
readonly SNAP_UNIT=snap.amazon-ssm-agent.amazon-ssm-agent.service
# Attempts of the download (curl's own retries, 10 s apart), each bounded.
readonly DOWNLOAD_ATTEMPTS=${REDIS_NODE_SSM_AGENT_ATTEMPTS:-5}
readonly DOWNLOAD_SECONDS=${REDIS_NODE_SSM_AGENT_DOWNLOAD_SECONDS:-300}
readonly LOCK_SECONDS=300
REASON=""

warn() {
  log "ssm-agent: WARNING: $*"
  logger -t redis-node-setup "WARNING: $*" 2>/dev/null || true
}

# The unit of an agent the image (or an earlier boot) installed, if any.
# (systemctl exits 1 when no unit file matches.)
installed_unit() {
  { systemctl list-unit-files --no-legend "$AGENT_UNIT" "$SNAP_UNIT" 2>/dev/null || true; } | awk 'NR == 1 { print $1 }'
}

# The package's URL for this node into AGENT_URL: the region's bucket,
# Debian's architecture name. On failure returns 1 with the reason in REASON.
AGENT_URL=""
agent_url() {
  local arch domain=amazonaws.com
  arch=$(dpkg --print-architecture) || { REASON="dpkg cannot name this node's architecture"; return 1; }
  [[ $arch == amd64 || $arch == arm64 ]] || { REASON="AWS builds no Debian package of the agent for $arch"; return 1; }
  aws_credentials || { REASON=$FETCH_ERROR; return 1; }
  [[ $CREDS_REGION == cn-* ]] && domain=amazonaws.com.cn
  AGENT_URL="${REDIS_NODE_S3_ENDPOINT:-https://s3.$CREDS_REGION.$domain}/amazon-ssm-$CREDS_REGION/latest/debian_$arch/$AGENT_PACKAGE.deb"
}

# Downloads, checks, installs and starts the agent; on failure returns 1 with the reason in REASON.
install_agent() {
  local dir status=0
  agent_url || return 1
  dir=$(mktemp -d "${TMPDIR:-/var/tmp}/ssm-agent.XXXXXX")
  install_from "$AGENT_URL" "$dir" || status=$?
  rm -rf "$dir"
  return "$status"
}

install_from() {
  local url=$1 dir=$2 deb=$2/$AGENT_PACKAGE.deb package arch version
  if ! curl -q -sS --fail --proto '=https' --tlsv1.2 --max-time "$DOWNLOAD_SECONDS" \
    --retry "$((DOWNLOAD_ATTEMPTS - 1))" --retry-all-errors --retry-delay 10 -o "$deb" "$url" 2>"$dir/curl.err"; then
    REASON="cannot download $url: $(tr '\n' ' ' <"$dir/curl.err")(does the subnet reach S3: NAT gateway or an S3 gateway endpoint?)"
    return 1
  fi
  package=$(dpkg-deb --field "$deb" Package 2>/dev/null) || package=""
  arch=$(dpkg-deb --field "$deb" Architecture 2>/dev/null) || arch=""
  version=$(dpkg-deb --field "$deb" Version 2>/dev/null) || version=""
  if [[ $package != "$AGENT_PACKAGE" || $arch != "$(dpkg --print-architecture)" ]]; then
    REASON="$url is not the $AGENT_PACKAGE package for this architecture (package '$package', architecture '$arch'); nothing installed"
    return 1
  fi
  # apt-get, not dpkg -i: it waits for the dpkg lock (an unattended-upgrades
  # run at first boot holds it) instead of failing at once.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout="$LOCK_SECONDS" "$deb" >"$dir/apt.log" 2>&1 || {
    REASON="apt-get install of $AGENT_PACKAGE $version failed: $(tail -n 3 "$dir/apt.log" | tr '\n' ' ')"
    return 1
  }
  # --no-reload: systemd finds a unit file that is new since the boot's one reload.
  systemctl enable --no-reload --now "$AGENT_UNIT" >/dev/null 2>&1 || {
    REASON="$AGENT_PACKAGE $version is installed, but systemctl cannot start $AGENT_UNIT"
    return 1
  }
  log "ssm-agent: installed $AGENT_PACKAGE $version from $url and started it"
}

start() {
  local unit
  unit=$(installed_unit)
  if [[ -n $unit ]]; then
    log "ssm-agent: the image's agent is installed ($unit)"
    return 0
  fi
  install_agent || warn "the SSM agent is not installed, so Session Manager and monitoring's associations cannot reach this node: $REASON"
}

case ${1:-} in
  check | prepare) ;;
  start) start ;;
  *) fail "usage: $0 check|prepare|start" ;;
esac
