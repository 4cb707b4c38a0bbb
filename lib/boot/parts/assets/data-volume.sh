#!/bin/bash
# Boot part "data-volume": finds the node's EBS data volume by its id (EBS
# volumes are NVMe disks whose serial is the volume id without its dash:
# /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol...), never by a device
# letter; formats it (XFS) only when it holds nothing at all; mounts it at the
# Redis data directory through an fstab line by UUID, and hands it to the
# redis user. Run again, it changes nothing. On later boots the fstab line
# mounts the volume (nofail: the node boots without it), and redis-server's
# drop-in (RequiresMountsFor) keeps Redis down until it is mounted; the boot's
# daemon-reload before the start steps makes systemd read the fstab line.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/common.sh"
load_node_env
: "${DATA_VOLUME_ID:?}" "${DATA_DIR:?}"
# The tests point these at links to a loop device and at a file of their own.
readonly BY_ID=${REDIS_NODE_BY_ID:-/dev/disk/by-id} FSTAB=${REDIS_NODE_FSTAB:-/etc/fstab}
readonly WAIT=${REDIS_NODE_VOLUME_WAIT:-300} SERIAL=${DATA_VOLUME_ID//-/}

# Terraform attaches the volume once the instance runs: wait for it, bounded.
find_device() {
  local waited=0 links
  for ((;; waited += 5)); do
    links=("$BY_ID"/nvme-*_"$SERIAL")
    [[ -e ${links[0]} ]] && readlink -f "${links[0]}" && return 0
    ((waited < WAIT)) || fail "data volume $DATA_VOLUME_ID not attached after $WAIT s: is its aws_volume_attachment created?"
    log "waiting for data volume $DATA_VOLUME_ID: $waited s of $WAIT s"
    sleep 5
  done
}

prepare() {
  local device type probe=0 uuid line
  device=$(find_device)
  type=$(blkid -p -o value -s TYPE "$device") || probe=$?
  if ((probe == 2)); then
    log "$device ($DATA_VOLUME_ID) is blank: formatting it (XFS)"
    mkfs.xfs -q -L redis-data "$device"
  elif [[ $probe != 0 || $type != xfs ]]; then
    fail "$device ($DATA_VOLUME_ID) holds ${type:-something} (blkid exit $probe), not XFS: not formatting it"
  else
    log "$device ($DATA_VOLUME_ID) has an XFS file system: keeping its data"
  fi
  uuid=$(blkid -p -o value -s UUID "$device")
  line=$(awk -v dir="$DATA_DIR" '$1 !~ /^#/ && $2 == dir' "$FSTAB")
  if [[ -z $line ]]; then
    echo "UUID=$uuid $DATA_DIR xfs defaults,noatime,nofail,x-systemd.device-timeout=90s 0 0" >>"$FSTAB"
  elif [[ $line != "UUID=$uuid "* ]]; then
    fail "$FSTAB mounts something else at $DATA_DIR: $line"
  fi
  findmnt -M "$DATA_DIR" >/dev/null || { mkdir -p "$DATA_DIR" && mount -T "$FSTAB" "$DATA_DIR"; }
  [[ $(findmnt -no SOURCE -M "$DATA_DIR") -ef $device ]] || fail "$DATA_DIR is not mounted from $device"
  # A volume from a replaced node may hold files of another uid.
  chown -R redis:redis "$DATA_DIR"
  chmod 0750 "$DATA_DIR"
  log "$DATA_VOLUME_ID ($device, UUID=$uuid) mounted at $DATA_DIR"
}

case ${1:-} in
  check) require_command mkfs.xfs "$APT_HINT" ;;
  prepare) prepare ;;
  start) ;;
  *) fail "usage: $0 check|prepare|start" ;;
esac
