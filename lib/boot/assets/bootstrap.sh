#!/bin/bash
# redis-node-boot: first-boot setup of a Redis node, run once by cloud-init.
# The user data carries this node's settings and this script; the boot
# library (the steps of the boot parts, redis.sh, boot.sh) is in SSM
# Parameter Store, in the parameters node.env names. This reads them with
# the instance role, installs the library only when its SHA-256 is the one
# the user data pins (so a parameter writer cannot change what runs as
# root), and runs it.
set -euo pipefail

readonly LIB_DIR=${REDIS_NODE_LIB:-/usr/local/lib/redis-node}
# shellcheck source=/dev/null
source "$LIB_DIR/aws.sh"

# Before the library runs, the packaged services are still masked (the
# cloud-config's bootcmd); a failure here leaves them so.
trap '(($? == 0)) || log "setup failed before the boot library ran: the Redis services stay masked; fix the cause, then run $0 again"' EXIT

# The library is a JSON object {path: [mode, text]}, split over the
# parameters in order; paths are relative to LIB_DIR.
install_library() {
  local name bundle=""
  for name in $BOOT_LIBRARY_PARAMETERS; do
    bundle+=$(fetch_secret ssm "$name" "the boot library")
  done
  printf '%s' "$bundle" | python3 -c 'import hashlib, json, os, sys
lib, pinned = sys.argv[1:]
data = sys.stdin.buffer.read()
actual = hashlib.sha256(data).hexdigest()
if actual != pinned:
    sys.exit(f"the boot library read has SHA-256 {actual}, the user data pins {pinned}")
for path, (mode, text) in json.loads(data).items():
    if path.startswith("/") or ".." in path.split("/"):
        sys.exit(f"the boot library names a path outside {lib}: {path}")
    dest = os.path.join(lib, path)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest + ".new", "w") as out:
        out.write(text)
    os.chmod(dest + ".new", int(mode, 8))
    os.replace(dest + ".new", dest)' "$LIB_DIR" "$BOOT_LIBRARY_SHA256" || fail "cannot install the boot library"
  log "installed the boot library (SHA-256 $BOOT_LIBRARY_SHA256)"
}

load_node_env
: "${BOOT_LIBRARY_PARAMETERS:?}" "${BOOT_LIBRARY_SHA256:?}"
install_library
exec bash "$LIB_DIR/boot.sh"
