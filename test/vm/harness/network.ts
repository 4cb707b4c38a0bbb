/**
 * The VMs' network: one Linux bridge with a private /24 and one tap device
 * per VM. The host's address on the bridge also carries 169.254.169.254/32,
 * where the fake instance metadata listens. No forwarding and no NAT: a VM
 * reaches the bridge host and the other VMs, nothing else. Needs root.
 */
import { spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ownerAlive, run } from "../../integration/harness/netns";

/** Names are `rvm` + 4 hex chars + `br` (the bridge) or `t<n>` (a tap). */
const NAME_PATTERN = /^(rvm[0-9a-f]{4})(br|t\d+)$/;
/** Owner pid and QEMU pids per prefix, so cleanupStale never touches a live run. */
export const OWNER_DIR = "/run/redis-vm-harness";

export interface BridgeOptions {
  /** The host's address on the bridge, e.g. "10.213.250.1". */
  readonly hostAddress: string;
  readonly prefixLength: number;
  /** Extra /32 on the bridge: the instance metadata address. */
  readonly metadataAddress: string;
  readonly tapCount: number;
}

export interface BridgeNetwork {
  readonly prefix: string;
  readonly bridge: string;
  readonly taps: readonly string[];
  /** Records a QEMU pid, so a later run can kill it if this process dies first. */
  recordQemuPid(pid: number): void;
  /** Kills the recorded QEMU processes, deletes the taps, the bridge (and its addresses) and the owner files. Idempotent. */
  destroy(): Promise<void>;
}

export function randomPrefix(): string {
  return `rvm${randomBytes(2).toString("hex")}`;
}

export async function createBridgeNetwork(opts: BridgeOptions): Promise<BridgeNetwork> {
  await assertAddressesFree([opts.hostAddress, opts.metadataAddress]);
  const prefix = randomPrefix();
  const bridge = `${prefix}br`;
  const taps = Array.from({ length: opts.tapCount }, (_, i) => `${prefix}t${i}`);
  fs.mkdirSync(OWNER_DIR, { recursive: true });
  fs.writeFileSync(path.join(OWNER_DIR, prefix), String(process.pid));
  startReaper(prefix);
  let destroyed = false;
  const network: BridgeNetwork = {
    prefix,
    bridge,
    taps,
    recordQemuPid(pid) {
      fs.appendFileSync(path.join(OWNER_DIR, `${prefix}.qemu`), `${pid}\n`);
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      destroyPrefixSync(prefix);
    },
  };
  try {
    await run(["ip", "link", "add", bridge, "type", "bridge"]);
    // Bridged frames must not cross the host's FORWARD chain (br_netfilter, Docker's DROP policy).
    await run(["ip", "link", "set", bridge, "type", "bridge", "nf_call_iptables", "0", "nf_call_ip6tables", "0", "nf_call_arptables", "0"]);
    await run(["ip", "addr", "add", `${opts.hostAddress}/${opts.prefixLength}`, "dev", bridge]);
    await run(["ip", "addr", "add", `${opts.metadataAddress}/32`, "dev", bridge]);
    await run(["ip", "link", "set", bridge, "up"]);
    for (const tap of taps) {
      await run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"]);
      await run(["ip", "link", "set", tap, "master", bridge]);
      await run(["ip", "link", "set", tap, "up"]);
    }
  } catch (error) {
    await network.destroy().catch(() => undefined);
    throw error;
  }
  return network;
}

/** Longest a reaper waits for its test process (longer than any run's time limits). */
const REAPER_MAX_SECONDS = 3 * 3600;

/**
 * A watcher outside this process that removes the run's VMs and network if
 * this process dies first (see reaper.sh): process exit and signal handlers
 * do not fire inside Jest's test environment.
 */
function startReaper(prefix: string): void {
  const reaper = spawn(path.join(__dirname, "reaper.sh"), [String(process.pid), prefix, OWNER_DIR, String(REAPER_MAX_SECONDS)], {
    detached: true, // Its own process group: a Ctrl-C of the test run does not reach it.
    stdio: "ignore",
  });
  reaper.on("error", (e) => console.error(`VM harness: the reaper did not start: ${e.message}`));
  reaper.unref();
}

/** Fails when an address we need is already on this host (another run, or the host's own network). */
async function assertAddressesFree(addresses: readonly string[]): Promise<void> {
  const { stdout } = await run(["ip", "-4", "-o", "addr", "show"]);
  for (const address of addresses) {
    const clash = stdout.split("\n").find((line) => line.includes(` ${address}/`));
    if (clash) throw new Error(`${address} is already on this host: '${clash.trim()}' (a VM test run still going?)`);
  }
}

function links(): string[] {
  const r = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8", timeout: 10_000 });
  return (r.stdout ?? "").split("\n").map((l) => l.split(":")[1]?.trim().split("@")[0]).filter((n): n is string => !!n);
}

/** Kills the QEMU processes recorded for the prefix (only if they still are QEMU of this prefix). */
function killRecordedQemu(prefix: string): void {
  let pids: number[] = [];
  try {
    pids = fs.readFileSync(path.join(OWNER_DIR, `${prefix}.qemu`), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    let cmdline = "";
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue; // Gone.
    }
    if (!cmdline.startsWith("qemu-system") || !cmdline.includes(prefix)) continue; // A recycled pid.
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
}

function destroyPrefixSync(prefix: string): void {
  killRecordedQemu(prefix);
  const ours = links().filter((l) => NAME_PATTERN.exec(l)?.[1] === prefix);
  // Taps first: a tap still held by a dying QEMU is removed with it anyway.
  ours.sort((a, b) => Number(a.endsWith("br")) - Number(b.endsWith("br")));
  const errors: string[] = [];
  for (const link of ours) {
    const r = spawnSync("ip", ["link", "del", link], { encoding: "utf8", timeout: 10_000 });
    if (r.status !== 0 && !/Cannot find device/.test(r.stderr ?? "")) errors.push(`ip link del ${link}: ${(r.stderr ?? "").trim()}`);
  }
  fs.rmSync(path.join(OWNER_DIR, prefix), { force: true });
  fs.rmSync(path.join(OWNER_DIR, `${prefix}.qemu`), { force: true });
  if (errors.length > 0) throw new Error(`cleanup of ${prefix} incomplete: ${errors.join("; ")}`);
}

/** Removes the QEMU processes, taps and bridges of runs whose process died. Returns their prefixes. */
export function cleanupStale(): string[] {
  const prefixes = new Set<string>();
  for (const link of links()) {
    const m = NAME_PATTERN.exec(link);
    if (m) prefixes.add(m[1]);
  }
  if (fs.existsSync(OWNER_DIR)) {
    for (const f of fs.readdirSync(OWNER_DIR)) {
      const m = /^(rvm[0-9a-f]{4})(\.qemu)?$/.exec(f);
      if (m) prefixes.add(m[1]);
    }
  }
  const removed: string[] = [];
  for (const prefix of prefixes) {
    if (ownerAlive(OWNER_DIR, prefix)) continue;
    destroyPrefixSync(prefix);
    removed.push(prefix);
  }
  return removed;
}
