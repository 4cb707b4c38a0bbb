#!/bin/bash
# Boot part "data-volume": finds the node's data disk by its NVMe serial, never
# by a device letter: an EBS volume's serial is its id without the dash
# (/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol...), an instance-store
# disk's starts with AWS (nvme-Amazon_EC2_NVMe_Instance_Storage_AWS...; with
# DATA_INSTANCE_STORE=1). Formats it (XFS) only when it holds nothing at all,
# mounts it at the Redis data directory and hands it to the redis user. Run
# again, it changes nothing.
# EBS: an fstab line by UUID mounts the volume at later boots (nofail: the
# node boots without it), and redis-server's drop-in (RequiresMountsFor) keeps
# Redis down until it is mounted; the boot's daemon-reload before the start
# steps makes systemd read the line.
# Instance store: the disk is blank again after every stop and start, so no
# fstab line (its UUID would not come back); redis-data-volume.service runs
# this step before every start of redis-server, which requires it.
set -euo pipefail
# shellcheck source=/dev/null
source "${REDIS_NODE_LIB:-/usr/local/lib/redis-node}/common.sh"
load_node_env
: "${DATA_DIR:?}"
# The tests point these at links to a loop device and at a file of their own.
readonly BY_ID=${REDIS_NODE_BY_ID:-/dev/disk/by-id} FSTAB=${REDIS_NODE_FSTAB:-/etc/fstab}
readonly WAIT=${REDIS_NODE_VOLUME_WAIT:-300}
if [[ ${DATA_INSTANCE_STORE:-} == 1 ]]; then
  readonly DISK="instance store" SERIAL='AWS[0-9A-Za-z]+' NAMED="the instance-store disk" MISSING="not found" \
    HINT="does the instance type have an NVMe instance store?"
else
  : "${DATA_VOLUME_ID:?}"
  readonly DISK=$DATA_VOLUME_ID SERIAL=${DATA_VOLUME_ID//-/} NAMED="data volume $DATA_VOLUME_ID" MISSING="not attached" \
    HINT="is its aws_volume_attachment created?"
fi

# The disk's link (the whole disk, not a partition's or a namespace's), bounded:
# Terraform attaches an EBS volume once the instance runs.
find_device() {
  local waited=0 link links
  for ((;; waited += 5)); do
    links=()
    for link in "$BY_ID"/nvme-*; do
      [[ ${link##*/} =~ ^nvme-.+_${SERIAL}$ ]] && links+=("$link")
    done
    if ((${#links[@]} > 0)); then
      ((${#links[@]} == 1)) || log "${#links[@]} disks match ($DISK): using the first, ${links[0]##*/}"
      readlink -f "${links[0]}"
      return 0
    fi
    ((waited < WAIT)) || fail "$NAMED $MISSING after $WAIT s: $HINT"
    log "waiting for $NAMED: $waited s of $WAIT s"
    sleep 5
  done
}

prepare() {
  local device type probe=0 uuid line
  device=$(find_device)
  type=$(blkid -p -o value -s TYPE "$device") || probe=$?
  if ((probe == 2)); then
    log "$device ($DISK) is blank: formatting it (XFS)"
    mkfs.xfs -q -L redis-data "$device"
  elif [[ $probe != 0 || $type != xfs ]]; then
    fail "$device ($DISK) holds ${type:-something} (blkid exit $probe), not XFS: not formatting it"
  else
    log "$device ($DISK) has an XFS file system: keeping its data"
  fi
  uuid=$(blkid -p -o value -s UUID "$device")
  mkdir -p "$DATA_DIR"
  if [[ ${DATA_INSTANCE_STORE:-} == 1 ]]; then
    findmnt -M "$DATA_DIR" >/dev/null || mount -t xfs -o defaults,noatime "$device" "$DATA_DIR"
  else
    line=$(awk -v dir="$DATA_DIR" '$1 !~ /^#/ && $2 == dir' "$FSTAB")
    if [[ -z $line ]]; then
      echo "UUID=$uuid $DATA_DIR xfs defaults,noatime,nofail,x-systemd.device-timeout=90s 0 0" >>"$FSTAB"
    elif [[ $line != "UUID=$uuid "* ]]; then
      fail "$FSTAB mounts something else at $DATA_DIR: $line"
    fi
    findmnt -M "$DATA_DIR" >/dev/null || mount -T "$FSTAB" "$DATA_DIR"
  fi
  [[ $(findmnt -no SOURCE -M "$DATA_DIR") -ef $device ]] || fail "$DATA_DIR is not mounted from $device"
  # A volume from a replaced node may hold files of another uid.
  chown -R redis:redis "$DATA_DIR"
  chmod 0750 "$DATA_DIR"
  log "$DISK ($device, UUID=$uuid) mounted at $DATA_DIR"
}

case ${1:-} in
  check) require_command mkfs.xfs "$APT_HINT" ;;
  prepare) prepare ;;
  start) ;;
  *) fail "usage: $0 check|prepare|start" ;;
esac
