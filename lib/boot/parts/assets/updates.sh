#!/bin/bash
# Boot part "updates": security updates install by themselves, and never
# restart redis-server or redis-sentinel behind the operator's back.
# - unattended-upgrades (if the image has it) runs daily, never reboots;
# - /usr/sbin/policy-rc.d answers 101 (forbidden) when a package's
#   maintainer script asks deb-systemd-invoke or invoke-rc.d to start,
#   stop, restart or reload Redis or Sentinel, 0 for every other service;
#   a policy-rc.d the image already had keeps deciding for the others;
# - needrestart (if it is ever installed) leaves both services alone.
# The node then runs the old binary until the rolling procedure restarts it.
# The boot's own steps call systemctl, which no policy-rc.d applies to.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/common.sh"

# Paths can be pointed elsewhere only by the tests of this step.
readonly POLICY_RC_D=${REDIS_NODE_POLICY_RC_D:-/usr/sbin/policy-rc.d}
# Where the image's own policy-rc.d goes, if it had one.
readonly CHAINED_POLICY=$POLICY_RC_D.before-redis-node
readonly APT_CONF=${REDIS_NODE_APT_CONF_DIR:-/etc/apt/apt.conf.d}/52redis-node-updates
readonly NEEDRESTART_CONF=${REDIS_NODE_NEEDRESTART_CONF_DIR:-/etc/needrestart/conf.d}/redis-node.conf
readonly MARKER="# redis-node: keeps package upgrades from restarting Redis"

write_policy() {
  local tmp=$POLICY_RC_D.tmp
  cat >"$tmp" <<POLICY
#!/bin/sh
$MARKER
# (written by the boot part "updates"; see README, Security updates).
# invoke-rc.d calls: policy-rc.d [options] <service> <actions> [<runlevel>]
# deb-systemd-invoke calls: policy-rc.d <unit> <action>
# <actions> is a list; "(restart)" is an action outside the runlevel.
while [ \$# -gt 0 ]; do case \$1 in --*) shift ;; *) break ;; esac; done
case \${1:-} in
  redis-server | redis-server.service | redis-server@*.service | redis-sentinel | redis-sentinel.service | redis-sentinel@*.service | redis | redis.service | sentinel | sentinel.service)
    for action in \${2:-}; do
      action=\${action#(}
      case \${action%)} in start | stop | restart | try-restart | reload | force-reload) exit 101 ;; esac
    done
    exit 0
    ;;
esac
[ ! -x '$CHAINED_POLICY' ] || exec '$CHAINED_POLICY' "\$@"
exit 0
POLICY
  chmod 0755 "$tmp"
  mv -f "$tmp" "$POLICY_RC_D"
}

prepare() {
  if [[ -e $POLICY_RC_D ]] && ! grep -qxF "$MARKER" "$POLICY_RC_D"; then
    # Not ours: it keeps its say over every service but Redis and Sentinel.
    mv -f "$POLICY_RC_D" "$CHAINED_POLICY"
    log "the image's $POLICY_RC_D moved to $CHAINED_POLICY; the new one asks it about every service but Redis and Sentinel"
  fi
  write_policy
  mkdir -p "$(dirname "$APT_CONF")"
  cat >"$APT_CONF" <<'APT'
// redis-node: security updates daily, never a reboot (see README, Security updates).
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
Unattended-Upgrade::Automatic-Reboot "false";
APT
  mkdir -p "$(dirname "$NEEDRESTART_CONF")"
  cat >"$NEEDRESTART_CONF" <<'NEEDRESTART'
# redis-node: restarted one node at a time by the rolling procedure, never by needrestart.
$nrconf{override_rc}{qr(^redis-(server|sentinel)(@.*)?\.service$)} = 0;
NEEDRESTART
  if command -v unattended-upgrade >/dev/null 2>&1; then
    log "updates: unattended-upgrades installs security updates daily; redis-server and redis-sentinel are never restarted by an upgrade"
  else
    log "updates: WARNING: unattended-upgrades is not installed, so security updates are NOT installed automatically (apt-get install unattended-upgrades, or an image that has it)"
    logger -t redis-node-setup "WARNING: unattended-upgrades is not installed: no automatic security updates" 2>/dev/null || true
  fi
}

case ${1:-} in
  check | start) ;;
  prepare) prepare ;;
  *) fail "usage: $0 check|prepare|start" ;;
esac
