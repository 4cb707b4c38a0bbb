#!/usr/bin/env bash
# Builds, once, the Debian 12 VM image that the VM boot tests (test/vm) boot
# each node of examples/basic on, and caches it. Run as root.
#
# The image is what a Debian 12 AMI is plus test plumbing: systemd,
# cloud-init (NoCloud seed), a cloud kernel, curl, python3, procps,
# qemu-guest-agent (the tests run commands in the guest through it). Redis is
# NOT installed: as on EC2, cloud-init installs it at boot from the user
# data's `packages:`, here from a flat apt repository of the .deb files this
# build downloads, which the tests serve on the bridge. Nothing in a VM needs
# the internet: its only apt source is that repository, the AWS endpoints
# the boot script calls resolve (/etc/hosts) to the bridge host, where the
# tests run fakes with a certificate from the test CA this build makes and
# the image trusts.
#
# Output: a directory under ${REDIS_VM_CACHE:-/var/cache/redis-replication-vm}
# named after a hash of this script (a changed script builds a new image),
# holding node.img (raw ext4), vmlinuz, initrd.img, repo/ (the apt
# repository), ca.crt + ca.key and image.json (what the harness needs to
# know). Its path is the only line printed on stdout; progress goes to
# stderr. With a warm cache it returns at once.
set -euo pipefail

# The harness reads these back from image.json; the image has them baked in.
readonly BRIDGE_HOST=10.213.250.1
readonly APT_PORT=8089
readonly REGION=us-east-1
# s3: the SSM agent package (the boot part ssm-agent), served by the tests.
readonly ENDPOINTS=("ssm.$REGION.amazonaws.com" "secretsmanager.$REGION.amazonaws.com" "events.$REGION.amazonaws.com" route53.amazonaws.com
  "s3.$REGION.amazonaws.com")
readonly SUITE=bookworm
readonly MIRROR=http://deb.debian.org/debian
readonly SECURITY_MIRROR=http://security.debian.org/debian-security
readonly IMAGE_SIZE=3G
readonly IMAGE_PACKAGES=(linux-image-cloud-amd64 initramfs-tools udev cloud-init curl python3 procps
  iproute2 netbase ca-certificates qemu-guest-agent)
# What the user data's `packages:` asks for that the image lacks; their
# dependencies come along. xfsprogs: the data volume's file system.
readonly REPO_PACKAGES=(redis-server redis-sentinel redis-tools curl python3 xfsprogs)

log() { echo "build-image: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  log "run as root (debootstrap, chroot, mounts)"
  exit 1
fi
for tool in debootstrap mkfs.ext4 openssl apt-ftparchive sha256sum flock; do
  command -v "$tool" >/dev/null || {
    log "$tool is missing; run scripts/install-test-deps.sh"
    exit 1
  }
done

cache_root=${REDIS_VM_CACHE:-/var/cache/redis-replication-vm}
key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
out=$cache_root/$key
mkdir -p "$cache_root"

if [[ -f $out/image.json ]]; then
  log "cached: $out"
  echo "$out"
  exit 0
fi

# One build at a time; a second caller waits (bounded) and then finds the cache warm.
exec 9>"$cache_root/.lock"
flock -w 1800 9 || {
  log "another build holds $cache_root/.lock for more than 30 minutes"
  exit 1
}
if [[ -f $out/image.json ]]; then
  log "cached (built by another run meanwhile): $out"
  echo "$out"
  exit 0
fi

# Leftovers of a build that was killed: unmount what it had mounted, then remove it.
while read -r target; do
  [[ $target == "$cache_root"/build.* ]] && umount -l "$target"
done < <(findmnt -rn -o TARGET | sort -r)
rm -rf --one-file-system "$cache_root"/build.*

started=$(date +%s)
work=$(mktemp -d "$cache_root/build.XXXXXX")
root=$work/root
mounted=()

unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
  done
  mounted=()
}
cleanup() {
  unmount_all
  # --one-file-system: never follow a mount that failed to go into the host's /dev.
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

log "debootstrap $SUITE into $root"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus "$SUITE" "$root" "$MIRROR" >&2

mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount -t sysfs sysfs "$root/sys" && mounted+=("$root/sys")
mount --bind /dev "$root/dev" && mounted+=("$root/dev")
mount --bind /dev/pts "$root/dev/pts" && mounted+=("$root/dev/pts")
# No service starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $SECURITY_MIRROR $SUITE-security main
EOF

log "installing ${IMAGE_PACKAGES[*]}"
in_root apt-get update -q >&2
in_root apt-get dist-upgrade -y -q >&2
in_root apt-get install -y -q --no-install-recommends "${IMAGE_PACKAGES[@]}" >&2

# What cloud-init's `apt-get install` of the user data's packages will fetch
# (recommends included, as cloud-init does not turn them off).
log "downloading ${REPO_PACKAGES[*]} and their dependencies into the apt repository"
in_root apt-get clean
in_root apt-get install -y -q --download-only "${REPO_PACKAGES[@]}" >&2
mkdir -p "$work/repo"
mv "$root"/var/cache/apt/archives/*.deb "$work/repo/"
(
  cd "$work/repo"
  apt-ftparchive packages . >Packages
  gzip -9kn Packages
  apt-ftparchive release . >Release
)
log "apt repository: $(find "$work/repo" -name '*.deb' | wc -l) packages"

log "configuring the image"
# The image's only apt source: the repository the tests serve on the bridge.
echo "deb [trusted=yes] http://$BRIDGE_HOST:$APT_PORT/ ./" >"$root/etc/apt/sources.list"
rm -f "$root"/etc/apt/sources.list.d/*
in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/*

cat >"$root/etc/cloud/cloud.cfg.d/90-redis-vm-test.cfg" <<'EOF'
# VM boot tests: the seed is a NoCloud ISO; keep the image's apt source.
datasource_list: [ NoCloud, None ]
apt:
  preserve_sources_list: true
EOF

cat >"$root/etc/hosts" <<EOF
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
# VM boot tests: the AWS endpoints are fakes on the bridge host.
$BRIDGE_HOST ${ENDPOINTS[*]}
EOF
echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" >"$root/etc/fstab"
echo debian >"$root/etc/hostname"
# Each VM makes its own machine id at first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# cloud-init's locale module wants en_US.UTF-8 (its default): generated and
# set here, it has nothing to do at boot (generating it there takes ~45 s of
# emulated CPU, and update-locale refuses a locale that is not generated).
sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$root/etc/locale.gen"
in_root locale-gen >&2
in_root update-locale LANG=en_US.UTF-8
in_root systemctl enable systemd-networkd.service >&2
# Saves CPU time at boot under emulation; the image has no LVM snapshots to reap.
in_root systemctl mask e2scrub_reap.service >&2
# A timer's apt run would race cloud-init's for the dpkg lock.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer >&2
# QEMU boots this image's kernel and initrd directly (copied out below), so
# nothing ever reads the guest's /boot: no package's trigger rebuilds the
# initramfs there (the documented switch; a kernel install still makes one).
# On EC2, xfsprogs' trigger rebuilds it at first boot in seconds; under
# emulation that took 220-300 s of each boot, for a file nothing reads.
sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$root/etc/initramfs-tools/update-initramfs.conf"
grep -qx 'update_initramfs=no' "$root/etc/initramfs-tools/update-initramfs.conf" || {
  log "could not turn off update-initramfs in $root/etc/initramfs-tools/update-initramfs.conf"
  exit 1
}

log "making the test CA"
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
  -subj "/CN=redis-replication VM test CA $key" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
chmod 0600 "$work/ca.key"
cp "$work/ca.crt" "$root/usr/local/share/ca-certificates/redis-vm-test-ca.crt"
in_root update-ca-certificates >&2

rm -f "$root/usr/sbin/policy-rc.d"
unmount_all

log "kernel, initrd and the ext4 image"
kernels=("$root"/boot/vmlinuz-*)
initrds=("$root"/boot/initrd.img-*)
[[ ${#kernels[@]} -eq 1 && -f ${kernels[0]} && ${#initrds[@]} -eq 1 && -f ${initrds[0]} ]] || {
  log "expected one kernel and one initrd in $root/boot, found: ${kernels[*]} ${initrds[*]}"
  exit 1
}
cp "${kernels[0]}" "$work/vmlinuz"
cp "${initrds[0]}" "$work/initrd.img"
mkfs.ext4 -q -F -L root -d "$root" "$work/node.img" "$IMAGE_SIZE"
rm -rf --one-file-system "$root"

seconds=$(($(date +%s) - started))
endpoints_json=$(printf '"%s",' "${ENDPOINTS[@]}")
cat >"$work/image.json" <<EOF
{
  "key": "$key",
  "bridgeHost": "$BRIDGE_HOST",
  "aptPort": $APT_PORT,
  "region": "$REGION",
  "endpoints": [${endpoints_json%,}],
  "kernelRelease": "$(basename "${kernels[0]}" | sed 's/^vmlinuz-//')",
  "buildSeconds": $seconds
}
EOF
# Publish atomically: image.json inside a complete directory.
rm -rf "$out"
mv "$work" "$out"
work=$out.removed-if-failed
for old in "$cache_root"/*; do
  [[ -d $old && $old != "$out" && $(basename "$old") =~ ^[0-9a-f]{16}$ ]] || continue
  log "removing the image of an older build script: $old"
  rm -rf "$old"
done
log "built $out in $seconds s"
echo "$out"
