/**
 * One Linux network namespace per Redis node, all on one bridge in the root
 * namespace. The root namespace (bridge address .1) plays the application
 * client the security group allows; an optional "outside" namespace plays a
 * host the security group does not allow. Needs root, iproute2 and iptables.
 */
import { execFile } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Pseudo node names accepted by `exec` and friends besides the real nodes. */
export const ROOT = "root";
export const OUTSIDE = "outside";

/** Every name we create starts with this, so leftovers are easy to find. */
export const DEFAULT_PREFIX_PATTERN = /^rt[0-9a-f]{4}/;

/** Owner pid per prefix, so cleanupStale never tears down a run that is alive. */
const OWNER_DIR = "/run/redis-it-harness";

const DEFAULT_TIMEOUT_MS = 10_000;

export interface RunOptions {
  /** @default 10 000 ms; the child is SIGKILLed when it runs out. */
  readonly timeoutMs?: number;
  /** Extra environment variables (merged into process.env). */
  readonly env?: Record<string, string>;
  /** Written to stdin. */
  readonly input?: string;
  /** Resolve with the non-zero exit code instead of throwing. @default false */
  readonly allowFailure?: boolean;
}

export interface RunResult {
  /** Exit code; null when killed (e.g. by the timeout). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs argv (no shell) with a hard timeout. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = execFile(
      argv[0],
      argv.slice(1),
      {
        timeout: timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 16 * 1024 * 1024,
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
      },
      (error, stdout, stderr) => {
        const err = error as (NodeJS.ErrnoException & { killed?: boolean; code?: unknown }) | null;
        const timedOut = !!err?.killed;
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        const result: RunResult = { code, stdout, stderr, timedOut };
        if (err && typeof err.code === "string") {
          // Spawn failure (ENOENT...), not an exit status.
          reject(new Error(`${argv.join(" ")}: ${err.message}`));
        } else if (code !== 0 && !opts.allowFailure) {
          const why = timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${code}`;
          reject(new Error(`${argv.join(" ")} ${why}: ${stderr.trim() || stdout.trim()}`));
        } else {
          resolve(result);
        }
      },
    );
    // A child that exits without reading stdin must not crash us with EPIPE.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ?? "");
  });
}

export interface TopologyOptions {
  /** Name prefix, 2..8 chars of [a-z0-9]; use `randomPrefix()`. */
  readonly prefix: string;
  /** First three octets of a free /24, e.g. "10.213.7". */
  readonly subnet: string;
  /** Node names, e.g. ["n1", "n2", "n3"]; at most 100. */
  readonly nodes: readonly string[];
  /** Also create the "outside" namespace at <subnet>.200. */
  readonly outsideClient: boolean;
}

export interface Topology {
  readonly prefix: string;
  readonly subnet: string;
  readonly nodes: readonly string[];
  /** Bridge address in the root namespace: the allowed application client. */
  readonly clientAddress: string;
  /** Address of the "outside" namespace, if it was asked for. */
  readonly outsideAddress: string | undefined;
  /** IP of a node (or of ROOT / OUTSIDE). */
  addressOf(node: string): string;
  /** Kernel name of the namespace of a node (or OUTSIDE). */
  namespaceOf(node: string): string;
  /** Runs argv inside the namespace of `ns` (a node, OUTSIDE or ROOT). */
  exec(ns: string, argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Kills every process in our namespaces, deletes them, the veths and the bridge. Idempotent. */
  destroy(): Promise<void>;
}

/** `rt` + 4 random hex chars: matches DEFAULT_PREFIX_PATTERN. */
export function randomPrefix(): string {
  return `rt${randomBytes(2).toString("hex")}`;
}

export async function createTopology(opts: TopologyOptions): Promise<Topology> {
  const { prefix, subnet, nodes } = opts;
  if (!/^[a-z0-9]{2,8}$/.test(prefix)) {
    throw new Error(`prefix must be 2..8 chars of [a-z0-9] (interface names are <= 15), got '${prefix}'`);
  }
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(subnet) || subnet.split(".").some((o) => Number(o) > 255)) {
    throw new Error(`subnet must be three octets like "10.213.7", got '${subnet}'`);
  }
  if (nodes.length === 0 || nodes.length > 100 || new Set(nodes).size !== nodes.length) {
    throw new Error(`nodes must be 1..100 distinct names, got ${JSON.stringify(nodes)}`);
  }
  for (const node of nodes) {
    if (!/^[a-z0-9-]{1,20}$/.test(node) || node === ROOT || node === OUTSIDE) {
      throw new Error(`node name '${node}' must be [a-z0-9-]{1,20} and not '${ROOT}'/'${OUTSIDE}'`);
    }
  }
  await assertSubnetFree(subnet);
  // destroy() works by name, so on a setup failure it would also delete a live run's objects with this prefix.
  const taken = [...(await listNamespaces()), ...(await listLinks())].filter((n) => n.startsWith(`${prefix}-`) || n === `${prefix}br`);
  if (taken.length > 0) throw new Error(`prefix ${prefix} is in use (${taken.join(", ")}); pick another or run cleanupStale()`);

  // Index 0..n-1 are nodes; the outside namespace uses the letter "o" in link names.
  const members = nodes.map((node, i) => ({ node, id: String(i), address: `${subnet}.${10 + i}` }));
  if (opts.outsideClient) members.push({ node: OUTSIDE, id: "o", address: `${subnet}.200` });
  const byNode = new Map(members.map((m) => [m.node, m]));
  const bridge = `${prefix}br`;
  const namespaceOf = (node: string): string => {
    if (!byNode.has(node)) throw new Error(`unknown namespace '${node}' (known: ${[...byNode.keys()].join(", ")})`);
    return `${prefix}-${node}`;
  };

  let destroyed: Promise<void> | undefined;
  const topology: Topology = {
    prefix,
    subnet,
    nodes: [...nodes],
    clientAddress: `${subnet}.1`,
    outsideAddress: opts.outsideClient ? `${subnet}.200` : undefined,
    addressOf(node) {
      if (node === ROOT) return `${subnet}.1`;
      const member = byNode.get(node);
      if (!member) throw new Error(`unknown node '${node}'`);
      return member.address;
    },
    namespaceOf,
    async exec(ns, argv, runOpts) {
      if (ns === ROOT) return run(argv, runOpts);
      return run(["ip", "netns", "exec", namespaceOf(ns), ...argv], runOpts);
    },
    destroy() {
      // Memoized: a second call waits for the first instead of racing it.
      destroyed ??= destroyPrefix(prefix);
      return destroyed;
    },
  };

  // Claim the prefix before creating anything, so a concurrent cleanupStale leaves us alone.
  fs.mkdirSync(OWNER_DIR, { recursive: true });
  fs.writeFileSync(path.join(OWNER_DIR, prefix), String(process.pid));
  try {
    await run(["ip", "link", "add", bridge, "type", "bridge"]);
    // With br_netfilter loaded, bridged frames would also cross the root
    // namespace's FORWARD chain (a host firewall or Docker's DROP policy would
    // silently break us). Turn that off for our bridge only.
    await run(["ip", "link", "set", bridge, "type", "bridge", "nf_call_iptables", "0", "nf_call_ip6tables", "0", "nf_call_arptables", "0"]);
    await run(["ip", "addr", "add", `${subnet}.1/24`, "dev", bridge]);
    await run(["ip", "link", "set", bridge, "up"]);
    for (const m of members) {
      const ns = namespaceOf(m.node);
      const hostEnd = `${prefix}h${m.id}`;
      await run(["ip", "netns", "add", ns]);
      // The namespace end is created directly inside the namespace as eth0.
      await run(["ip", "link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      await run(["ip", "link", "set", hostEnd, "master", bridge]);
      await run(["ip", "link", "set", hostEnd, "up"]);
      const inNs = (...argv: string[]) => run(["ip", "-n", ns, ...argv]);
      await inNs("link", "set", "lo", "up");
      await inNs("addr", "add", `${m.address}/24`, "dev", "eth0");
      await inNs("link", "set", "eth0", "up");
      await inNs("route", "add", "default", "via", `${subnet}.1`);
    }
  } catch (error) {
    await topology.destroy().catch(() => undefined);
    throw error;
  }
  return topology;
}

/** Fails when the root namespace already routes the /24 (another run, or the host's own network). */
async function assertSubnetFree(subnet: string): Promise<void> {
  const { stdout } = await run(["ip", "-4", "-o", "route", "show"]);
  const clash = stdout.split("\n").find((line) => line.startsWith(`${subnet}.`));
  if (clash) throw new Error(`subnet ${subnet}.0/24 is already routed on this host: '${clash.trim()}'`);
}

async function listNamespaces(): Promise<string[]> {
  const { stdout } = await run(["ip", "netns", "list"]);
  // Lines look like "rt1a2b-n1 (id: 3)".
  return stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((n) => n);
}

async function listLinks(): Promise<string[]> {
  const { stdout } = await run(["ip", "-o", "link", "show"]);
  // Lines look like "12: rt1a2bh0@if11: <...>".
  return stdout
    .split("\n")
    .map((l) => l.split(":")[1]?.trim().split("@")[0])
    .filter((n): n is string => !!n);
}

/** Pids of every process inside a namespace (empty when it is gone). */
export async function namespacePids(ns: string): Promise<number[]> {
  const { stdout } = await run(["ip", "netns", "pids", ns], { allowFailure: true });
  return stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number);
}

/** Deletes everything named with `prefix`; used by destroy() and cleanupStale(). */
async function destroyPrefix(prefix: string): Promise<void> {
  const errors: string[] = [];
  const namespaces = (await listNamespaces()).filter((n) => n.startsWith(`${prefix}-`));
  for (const ns of namespaces) {
    // Processes would keep an unnamed namespace (and its veth) alive after `ip netns del`.
    for (let attempt = 0; attempt < 20; attempt++) {
      const pids = await namespacePids(ns);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await sleep(100);
    }
    const left = await namespacePids(ns);
    if (left.length > 0) errors.push(`processes ${left.join(",")} survived SIGKILL in ${ns}`);
    const del = await run(["ip", "netns", "del", ns], { allowFailure: true });
    if (del.code !== 0) errors.push(`ip netns del ${ns}: ${del.stderr.trim()}`);
  }
  // Host veth ends normally vanish with their namespace; the bridge never does.
  const ours = new RegExp(`^${prefix}(br|h[0-9o]+)$`);
  const links = (await listLinks()).filter((l) => ours.test(l));
  links.sort((a, b) => Number(a === `${prefix}br`) - Number(b === `${prefix}br`));
  for (const link of links) {
    const del = await run(["ip", "link", "del", link], { allowFailure: true });
    if (del.code !== 0 && !/Cannot find device/.test(del.stderr)) errors.push(`ip link del ${link}: ${del.stderr.trim()}`);
  }
  fs.rmSync(path.join(OWNER_DIR, prefix), { force: true });
  if (errors.length > 0) throw new Error(`cleanup of ${prefix} incomplete: ${errors.join("; ")}`);
}

/**
 * Removes namespaces and links left by crashed runs: names matching the
 * pattern (whose match is the run's prefix), unless the run that owns the
 * prefix is still alive. Returns the prefixes it removed.
 */
export async function cleanupStale(prefixPattern: RegExp = DEFAULT_PREFIX_PATTERN): Promise<string[]> {
  const prefixes = new Set<string>();
  for (const name of [...(await listNamespaces()), ...(await listLinks())]) {
    const match = prefixPattern.exec(name);
    if (match && match.index === 0) prefixes.add(match[0]);
  }
  const removed: string[] = [];
  for (const prefix of prefixes) {
    if (ownerAlive(OWNER_DIR, prefix)) continue;
    await destroyPrefix(prefix);
    removed.push(prefix);
  }
  return removed;
}

/** Whether the process that owns a harness run (its pid in ownerDir/prefix) is alive; a dead owner's leftovers may go. */
export function ownerAlive(ownerDir: string, prefix: string): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(ownerDir, prefix), "utf8"));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface FirewallRule {
  readonly port: number;
  /** IPs or CIDRs allowed to open TCP connections to the port. */
  readonly allowedSources: readonly string[];
}

/** Chosen once per process: "iptables-restore" (nf_tables here) or the legacy one. */
let restoreCommand: string | undefined;

/**
 * Replaces the node's INPUT rules with the equivalent of an AWS security
 * group: loopback and replies pass, each port accepts new TCP connections
 * only from its sources, any other new inbound TCP is dropped (dropped, not
 * rejected, so a blocked client times out as it does on AWS).
 */
export async function applyFirewall(topology: Topology, node: string, rules: readonly FirewallRule[]): Promise<void> {
  const lines = ["-A INPUT -i lo -j ACCEPT", "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"];
  for (const rule of rules) {
    if (!Number.isInteger(rule.port) || rule.port < 1 || rule.port > 65535) throw new Error(`bad port ${rule.port}`);
    for (const source of rule.allowedSources) {
      if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(source)) throw new Error(`bad source '${source}'`);
      lines.push(`-A INPUT -p tcp --dport ${rule.port} -s ${source} -j ACCEPT`);
    }
    lines.push(`-A INPUT -p tcp --dport ${rule.port} -j DROP`);
  }
  lines.push("-A INPUT -p tcp --syn -j DROP");
  await loadFilterTable(topology, node, lines);
}

/** Removes every filter rule of a node (back to accept-all). */
export async function clearFirewall(topology: Topology, node: string): Promise<void> {
  await loadFilterTable(topology, node, []);
}

async function loadFilterTable(topology: Topology, node: string, rules: readonly string[]): Promise<void> {
  if (node === ROOT) throw new Error("refusing to change the root namespace's firewall");
  const ruleset = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...rules, "COMMIT", ""].join("\n");
  // iptables-restore swaps the whole table in one step: no window with half the rules.
  const candidates = restoreCommand ? [restoreCommand] : ["iptables-restore", "iptables-legacy-restore"];
  const failures: string[] = [];
  for (const command of candidates) {
    const result = await topology.exec(node, [command, "-w", "5"], { input: ruleset, allowFailure: true }).catch((e: Error) => e);
    if (!(result instanceof Error) && result.code === 0) {
      restoreCommand = command;
      return;
    }
    failures.push(`${command}: ${result instanceof Error ? result.message : result.stderr.trim()}`);
  }
  throw new Error(
    `cannot load iptables rules in the namespace of ${node} (needs root and iptables with the nf_tables or legacy backend): ${failures.join(" | ")}`,
  );
}

export type TcpProbe = "connected" | "refused" | "timeout" | "unreachable";

/**
 * Tries one TCP connect from namespace `ns` (a node, OUTSIDE or ROOT).
 * "timeout" is what a security-group DROP looks like; "refused" means the
 * packet arrived but nothing listens.
 */
export async function probeTcp(topology: Topology, ns: string, host: string, port: number, timeoutSeconds = 2): Promise<TcpProbe> {
  const result = await topology.exec(ns, ["timeout", String(timeoutSeconds), "bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`], {
    allowFailure: true,
    timeoutMs: (timeoutSeconds + 5) * 1000,
  });
  if (result.code === 0) return "connected";
  if (result.code === 124 || result.timedOut) return "timeout";
  return /refused/i.test(result.stderr) ? "refused" : "unreachable";
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
