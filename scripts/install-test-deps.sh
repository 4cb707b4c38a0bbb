#!/usr/bin/env bash
# Installs the Debian packages the tests need (run as root): real redis-server
# and redis-sentinel for the integration tests, cloud-init for
# `cloud-init schema`, shellcheck for the boot script, iproute2 and iptables
# for the network namespaces that stand in for EC2 nodes and security groups,
# openssl for the test CA and certificates (and the tls boot step's checks);
# python3-redis (redis-py) as a second Sentinel-aware client library;
# xfsprogs and fdisk for the data-volume boot step, run on loop devices;
# prometheus-redis-exporter, which the metrics integration suite runs against
# the namespaced nodes with their synthesized configuration;
# QEMU, cloud-localds, debootstrap and apt-ftparchive for the VM boot tests
# (test/vm), which build a Debian 12 image with scripts/vm/build-image.sh and
# boot each node on it.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: run as root (apt-get, and the integration tests create network namespaces)" >&2
  exit 1
fi
apt-get update
apt-get install -y --no-install-recommends redis-server redis-sentinel redis-tools cloud-init shellcheck iproute2 iptables procps \
  qemu-system-x86 qemu-utils cloud-image-utils debootstrap openssl apt-utils e2fsprogs ca-certificates xfsprogs fdisk \
  python3-redis prometheus-redis-exporter
# The packages may start their own services on loopback; the tests use their
# own processes inside network namespaces, so stop those to keep ports free.
systemctl stop redis-server redis-sentinel 2>/dev/null || service redis-server stop 2>/dev/null || true
service redis-sentinel stop 2>/dev/null || true
systemctl stop prometheus-redis-exporter 2>/dev/null || service prometheus-redis-exporter stop 2>/dev/null || true
redis-server --version
