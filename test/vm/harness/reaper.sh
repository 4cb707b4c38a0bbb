#!/usr/bin/env bash
# reaper.sh PARENT_PID PREFIX OWNER_DIR MAX_SECONDS
# Started by the VM harness next to a test run. Jest's test environment gets
# a copy of `process`, so signal and exit handlers there never fire: when
# the test process dies without cleaning up (SIGINT, SIGKILL, a crash),
# this removes its QEMU processes (the pids recorded in OWNER_DIR, checked
# to still be QEMU of this run), taps and bridge. It exits quietly once the
# run has cleaned up itself (its owner file is gone), and after MAX_SECONDS
# in any case (then the next run's cleanupStale is the fallback).
set -euo pipefail
readonly parent=$1 prefix=$2 owner_dir=$3 max_seconds=$4

for ((i = 0; i < max_seconds; i++)); do
  [[ -e $owner_dir/$prefix ]] || exit 0
  kill -0 "$parent" 2>/dev/null || break
  sleep 1
done
if kill -0 "$parent" 2>/dev/null; then
  exit 0 # Still alive after MAX_SECONDS: not ours to tear down.
fi

if [[ -f $owner_dir/$prefix.qemu ]]; then
  while read -r pid; do
    [[ $pid =~ ^[0-9]+$ ]] || continue
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    if [[ $cmdline == qemu-system* && $cmdline == *"$prefix"* ]]; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$owner_dir/$prefix.qemu"
fi
while read -r link; do
  if [[ $link =~ ^${prefix}t[0-9]+$ ]]; then
    ip link del "$link" 2>/dev/null || true
  fi
done < <(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
ip link del "${prefix}br" 2>/dev/null || true
rm -f "$owner_dir/$prefix" "$owner_dir/$prefix.qemu"
echo "reaper: removed the VMs and network of $prefix (test process $parent died)" >&2
