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

# try_get_parameters NAME...: one GetParameters call (at most 10 names);
# prints the values in the order of the names, or returns 1 with the names
# SSM did not return in FETCH_ERROR.
try_get_parameters() {
  local names values
  names=$(printf '"%s",' "$@")
  aws_json_call ssm AmazonSSM.GetParameters "{\"Names\":[${names%,}]}" || return 1
  # shellcheck disable=SC2034 # FETCH_ERROR is aws_retry's
  values=$(python3 -c 'import json, sys
values = {p["Name"]: p["Value"] for p in json.loads(sys.stdin.buffer.read()).get("Parameters", [])}
missing = [name for name in sys.argv[1:] if name not in values]
if missing:
    sys.exit("ssm does not have " + " ".join(missing))
sys.stdout.buffer.write("".join(values[name] for name in sys.argv[1:]).encode())' "$@" <<<"$AWS_REPLY" 2>&1) || {
    FETCH_ERROR=$values
    return 1
  }
  printf '%s' "$values"
}

# The library is a JSON object {path: [mode, text]}, split over the
# parameters in order; paths are relative to LIB_DIR. GetParameters reads
# ten of them a call.
install_library() {
  local -a names
  local bundle="" i
  read -r -a names <<<"$BOOT_LIBRARY_PARAMETERS"
  aws_credentials || true
  for ((i = 0; i < ${#names[@]}; i += 10)); do
    bundle+=$(aws_retry "the boot library" ssm try_get_parameters "${names[@]:i:10}")
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
