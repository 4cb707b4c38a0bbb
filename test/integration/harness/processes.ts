/**
 * redis-server / redis-sentinel as child processes inside node namespaces,
 * started from the real (unedited) config files. Tracked per node and role
 * in this module, so one topology per test file (jest gives each file its
 * own module registry).
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Topology, sleep } from "./netns";

export type Role = "redis" | "sentinel";

export interface NodeProcess {
  readonly node: string;
  readonly role: Role;
  readonly pid: number;
  /** The writable copy in workDir that the process runs with (and rewrites). */
  readonly confFile: string;
  readonly logFile: string;
}

interface Tracked extends NodeProcess {
  readonly argv: readonly string[];
  /** Variables added to the process' environment (and so to its scripts'). */
  readonly env: Readonly<Record<string, string>>;
  readonly child: ChildProcess;
  /** Resolves with the exit code or signal name. */
  readonly exited: Promise<string>;
  exitStatus: string | undefined;
  /** Last bytes of stdout/stderr: errors before the log file is open land here. */
  outputTail: string;
}

const tracked = new Map<string, Tracked>();
const key = (node: string, role: Role) => `${node}/${role}`;

const READY: Record<Role, RegExp> = {
  redis: /Ready to accept connections/,
  // Sentinel 7.0 logs no "Ready" line; its ID comes right after the listeners open.
  sentinel: /Sentinel ID is/,
};
const BINARY: Record<Role, string> = { redis: "redis-server", sentinel: "redis-sentinel" };
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * Copies confPath to <workDir>/redis.conf and runs redis-server on it inside
 * the node's namespace, with the ACL file <workDir>/users.acl and, when the
 * config has a TLS port, the TLS files <workDir>/tls/{node.crt,node.key,ca.crt};
 * resolves once it accepts connections.
 */
export function startRedis(topology: Topology, node: string, confPath: string, workDir: string): Promise<NodeProcess> {
  return start(topology, node, "redis", confPath, workDir);
}

/**
 * Same for redis-sentinel, with <workDir>/sentinel.conf and sentinel.log;
 * `env` is added to its environment, which Sentinel passes to its scripts.
 */
export function startSentinel(topology: Topology, node: string, confPath: string, workDir: string, env: Record<string, string> = {}): Promise<NodeProcess> {
  return start(topology, node, "sentinel", confPath, workDir, env);
}

async function start(topology: Topology, node: string, role: Role, confPath: string, workDir: string, env: Record<string, string> = {}): Promise<NodeProcess> {
  const previous = tracked.get(key(node, role));
  if (previous && previous.exitStatus === undefined) throw new Error(`${node}/${role} is already running (pid ${previous.pid})`);
  fs.mkdirSync(workDir, { recursive: true });
  const confFile = path.resolve(workDir, `${role}.conf`);
  // Re-copying over the file a previous run rewrote would lose its rewrites; use restart() for that.
  if (path.resolve(confPath) !== confFile) fs.copyFileSync(confPath, confFile);
  fs.chmodSync(confFile, 0o600);
  assertConfiguredDirExists(confFile);
  const logFile = path.resolve(workDir, `${role}.log`);
  const argv = [
    "ip", "netns", "exec", topology.namespaceOf(node),
    BINARY[role], confFile,
    // Command-line options win over the file: point every path at workDir and
    // let us own the process instead of systemd.
    "--dir", path.resolve(workDir),
    "--logfile", logFile,
    "--pidfile", path.resolve(workDir, `${role}.pid`),
    "--daemonize", "no",
    "--supervised", "no",
    ...(role === "redis" ? ["--aclfile", path.resolve(workDir, "users.acl")] : []),
    ...(/^tls-port /m.test(fs.readFileSync(confFile, "utf8")) ? tlsFileOverrides(workDir) : []),
  ];
  return launch(node, role, argv, confFile, logFile, env);
}

/** The node's key and certificates in place of /etc/redis/tls (Redis reads them after the config, at startup). */
function tlsFileOverrides(workDir: string): string[] {
  const file = (name: string) => {
    const full = path.resolve(workDir, "tls", name);
    if (!fs.existsSync(full)) throw new Error(`the config listens with TLS, but ${full} does not exist`);
    return full;
  };
  return ["--tls-cert-file", file("node.crt"), "--tls-key-file", file("node.key"), "--tls-ca-cert-file", file("ca.crt")];
}

/**
 * A config's `dir` is chdir'ed into while the file is read, before --dir
 * overrides it, so a missing directory (e.g. /var/lib/redis without the
 * redis-server package) aborts startup.
 */
function assertConfiguredDirExists(confFile: string): void {
  const match = /^\s*dir\s+"?([^"\n]+?)"?\s*$/m.exec(fs.readFileSync(confFile, "utf8"));
  if (match && !fs.existsSync(match[1])) {
    throw new Error(`${confFile} sets 'dir ${match[1]}', which does not exist; redis chdirs there before --dir applies. Create it (the redis-server package does).`);
  }
}

async function launch(node: string, role: Role, argv: readonly string[], confFile: string, logFile: string, env: Readonly<Record<string, string>>): Promise<NodeProcess> {
  const logOffset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  // `ip netns exec` execs the binary, so child.pid is redis itself.
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: false, env: { ...process.env, ...env } });
  if (child.pid === undefined) throw new Error(`could not spawn ${argv.join(" ")}`);
  const entry: Tracked = {
    node, role, pid: child.pid, confFile, logFile, argv, env, child,
    exited: new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? `exit ${code}`))),
    exitStatus: undefined,
    outputTail: "",
  };
  void entry.exited.then((status) => (entry.exitStatus = status));
  const keepTail = (chunk: Buffer) => (entry.outputTail = (entry.outputTail + chunk.toString()).slice(-4000));
  child.stdout?.on("data", keepTail);
  child.stderr?.on("data", keepTail);
  tracked.set(key(node, role), entry);

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (entry.exitStatus !== undefined) {
      throw new Error(`${node}/${role} exited during startup (${entry.exitStatus}):\n${logsOf(node)}`);
    }
    if (READY[role].test(readFrom(logFile, logOffset))) return publicView(entry);
    await sleep(50);
  }
  await kill(entry, "SIGKILL");
  throw new Error(`${node}/${role} not ready after ${START_TIMEOUT_MS} ms:\n${logsOf(node)}`);
}

/** Starts a stopped/killed process again with the same (possibly rewritten) config file. */
export async function restart(node: string, role: Role): Promise<NodeProcess> {
  const entry = tracked.get(key(node, role));
  if (!entry) throw new Error(`${node}/${role} was never started`);
  if (entry.exitStatus === undefined) throw new Error(`${node}/${role} is still running (pid ${entry.pid})`);
  return launch(node, role, entry.argv, entry.confFile, entry.logFile, entry.env);
}

/** SIGKILL one role of a node, or every process of the node; waits until they are gone. */
export async function kill9(node: string, role?: Role): Promise<void> {
  await Promise.all(entriesOf(node, role).map((e) => kill(e, "SIGKILL")));
}

/** Graceful stop (SIGTERM: redis saves and hands over), SIGKILL if it takes too long. */
export async function stop(node: string, role?: Role, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  await Promise.all(entriesOf(node, role).map((e) => kill(e, "SIGTERM", timeoutMs)));
}

/** SIGKILLs everything this module started (teardown: data does not matter). */
export async function stopAll(): Promise<void> {
  await Promise.all([...tracked.values()].map((e) => kill(e, "SIGKILL")));
  tracked.clear();
}

export function isRunning(node: string, role: Role): boolean {
  const entry = tracked.get(key(node, role));
  return !!entry && entry.exitStatus === undefined;
}

/**
 * The command line a role of a node was started with (`ip netns exec <ns>`
 * and the binary's arguments), for a stand-in of systemd that restarts it
 * the way the harness started it. Redis rewrites its own argv (the process
 * title), so /proc/<pid>/cmdline does not have it.
 */
export function commandOf(node: string, role: Role): readonly string[] {
  const entry = tracked.get(key(node, role));
  if (!entry) throw new Error(`${node}/${role} was never started`);
  return entry.argv;
}

export function processOf(node: string, role: Role): NodeProcess | undefined {
  const entry = tracked.get(key(node, role));
  return entry && publicView(entry);
}

/** Tail of each log of a node (and early stderr), for failure messages. */
export function logsOf(node: string, lines = 40): string {
  return [...tracked.values()]
    .filter((e) => e.node === node)
    .map((e) => {
      const state = e.exitStatus === undefined ? `running, pid ${e.pid}` : `exited: ${e.exitStatus}`;
      const log = readFrom(e.logFile, 0).split("\n").slice(-lines - 1).join("\n");
      const output = e.outputTail.trim() ? `\n[stdout/stderr]\n${e.outputTail.trim()}` : "";
      return `----- ${e.node}/${e.role} (${state}) ${e.logFile}\n${log}${output}`;
    })
    .join("\n");
}

/** logsOf for every tracked node. */
export function allLogs(lines = 40): string {
  return [...new Set([...tracked.values()].map((e) => e.node))].map((n) => logsOf(n, lines)).join("\n");
}

const EXPIRED = Symbol("expired");

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Describes the condition, for the timeout error. */
  readonly what: string;
}

/**
 * Polls fn until it returns something other than undefined/null/false and
 * returns that. A throwing fn counts as "not yet" (its last error is
 * reported); a hanging call is abandoned at the deadline.
 */
export async function waitUntil<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const intervalMs = opts.intervalMs ?? 200;
  let lastError: unknown;
  // The count bound is a second guard in case the clock misbehaves.
  const maxAttempts = Math.ceil(opts.timeoutMs / Math.max(intervalMs, 1)) + 1;
  for (let attempt = 0; attempt < maxAttempts && Date.now() < deadline; attempt++) {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<typeof EXPIRED>((resolve) => (timer = setTimeout(() => resolve(EXPIRED), Math.max(deadline - Date.now(), 1))));
    try {
      const value = await Promise.race([Promise.resolve().then(fn), expired]);
      if (value === EXPIRED) break;
      if (value !== undefined && value !== null && value !== false) return value as T;
    } catch (error) {
      lastError = error;
    } finally {
      clearTimeout(timer);
    }
    await sleep(Math.min(intervalMs, Math.max(deadline - Date.now(), 0)));
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${cause}`);
}

function entriesOf(node: string, role?: Role): Tracked[] {
  const found = [...tracked.values()].filter((e) => e.node === node && (role === undefined || e.role === role));
  if (found.length === 0) throw new Error(`no ${role ?? "process"} was started on ${node}`);
  return found;
}

async function kill(entry: Tracked, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  if (entry.exitStatus !== undefined) return;
  entry.child.kill(signal);
  const timer = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), graceMs).unref());
  if ((await Promise.race([entry.exited, timer])) !== "late") return;
  entry.child.kill("SIGKILL");
  const again = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), 5_000).unref());
  if ((await Promise.race([entry.exited, again])) === "late") throw new Error(`${entry.node}/${entry.role} (pid ${entry.pid}) survived SIGKILL`);
}

function readFrom(file: string, offset: number): string {
  try {
    const buffer = fs.readFileSync(file);
    return buffer.subarray(Math.min(offset, buffer.length)).toString();
  } catch {
    return "";
  }
}

function publicView(e: Tracked): NodeProcess {
  return { node: e.node, role: e.role, pid: e.pid, confFile: e.confFile, logFile: e.logFile };
}
