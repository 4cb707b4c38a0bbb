/**
 * Applications writing through Sentinel while a test moves the master: an
 * ioredis client and a redis-py client (Debian's python3-redis), each in a
 * loop of SET then WAIT 1 1000, from the root namespace (the allowed client).
 * They record when each write succeeded, every error, and the keys a replica
 * acknowledged; the test decides what to assert, the figures are printed.
 * Every loop is bounded in time; stop() ends them.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import Redis from "ioredis";
import { ConnectionOptions } from "tls";
import { Login } from "./client";
import { sleep } from "./netns";

export interface WriterConfig {
  readonly sentinels: ReadonlyArray<{ host: string; port: number }>;
  readonly masterName: string;
  readonly app: Login;
  readonly sentinelClient: Login;
  readonly tls: ConnectionOptions;
  /** Where the python writer finds the group's CA certificate. */
  readonly caFile: string;
  /** A directory for the python writer's script. */
  readonly workDir: string;
}

export interface WriteLog {
  readonly client: string;
  /** Completion time of each successful SET (+WAIT), ms since the epoch. */
  readonly successes: number[];
  readonly errors: Array<{ at: number; message: string }>;
  /** Keys whose WAIT counted at least one replica. */
  readonly acknowledged: string[];
  /** Every key written (value = its number). */
  readonly written: string[];
}

export interface Writer {
  readonly log: WriteLog;
  /** Resolves once the writer wrote at least once. */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/** The longest time without a successful write between `from` and `to` (ms). */
export function longestGap(log: WriteLog, from: number, to: number): number {
  const times = [from, ...log.successes.filter((t) => t > from && t < to), to];
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  return gap;
}

/** Error kinds in [from, to]: "NOREPLICAS x3, Connection is closed x1". */
export function errorSummary(log: WriteLog, from = 0, to = Number.MAX_SAFE_INTEGER): string {
  const counts = new Map<string, number>();
  for (const e of log.errors.filter((x) => x.at >= from && x.at <= to)) {
    const kind = /^[A-Z]{4,}\b/.test(e.message) ? e.message.split(" ")[0] : e.message.slice(0, 60);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} x${n}`).join(", ") || "none";
}

const MAX_RUN_MS = 120_000;

/**
 * ioredis through Sentinel with its defaults for queueing and retries (as
 * an application would run it), bounded reconnects, 1 s command timeout.
 */
export function ioredisWriter(config: WriterConfig, prefix: string): Writer {
  const log: WriteLog = { client: "ioredis", successes: [], errors: [], acknowledged: [], written: [] };
  const client = new Redis({
    sentinels: config.sentinels.map((s) => ({ ...s })),
    name: config.masterName,
    username: config.app.username,
    password: config.app.password,
    sentinelUsername: config.sentinelClient.username,
    sentinelPassword: config.sentinelClient.password,
    tls: config.tls,
    sentinelTLS: config.tls,
    enableTLSForSentinelMode: true,
    connectTimeout: 1000,
    commandTimeout: 3000,
    retryStrategy: (times) => (times > 100 ? null : Math.min(times * 50, 500)),
    sentinelRetryStrategy: (times) => (times > 100 ? null : 200),
  });
  client.on("error", () => undefined);
  let stopped = false;
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const loop = (async () => {
    const deadline = Date.now() + MAX_RUN_MS;
    for (let i = 0; !stopped && Date.now() < deadline; i++) {
      const key = `${prefix}:io:k${i}`;
      try {
        await client.set(key, String(i));
        log.written.push(key);
        const acked = await client.wait(1, 1000);
        if (acked >= 1) log.acknowledged.push(key);
        log.successes.push(Date.now());
        markStarted();
      } catch (e) {
        log.errors.push({ at: Date.now(), message: (e as Error).message });
        await sleep(20);
      }
      await sleep(10);
    }
  })();
  return {
    log,
    started,
    async stop() {
      stopped = true;
      await loop;
      client.disconnect();
    },
  };
}

const PYTHON_WRITER = String.raw`
import json, sys, time
from redis.sentinel import Sentinel
cfg = json.loads(sys.argv[1])
tls = {"ssl": True, "ssl_ca_certs": cfg["caFile"], "ssl_check_hostname": False}
sentinel = Sentinel([tuple(s) for s in cfg["sentinels"]], socket_timeout=1,
    sentinel_kwargs={"username": cfg["sentinelUser"], "password": cfg["sentinelPassword"], "socket_timeout": 1, **tls})
master = sentinel.master_for(cfg["masterName"], username=cfg["user"], password=cfg["password"],
    socket_timeout=3, socket_connect_timeout=1, **tls)
deadline = time.time() + cfg["maxSeconds"]
i = 0
while time.time() < deadline:
    key = "%s:py:k%d" % (cfg["prefix"], i)
    try:
        master.set(key, str(i))
        print(json.dumps({"written": key}), flush=True)
        acked = master.execute_command("WAIT", 1, 1000)
        print(json.dumps({"ok": time.time() * 1000, "key": key, "acked": acked}), flush=True)
    except Exception as e:
        print(json.dumps({"err": time.time() * 1000, "msg": "%s: %s" % (type(e).__name__, e)}), flush=True)
        time.sleep(0.02)
    i += 1
    time.sleep(0.01)
`;

/**
 * redis-py's Sentinel client (master_for), as its documentation shows it:
 * it re-resolves the master on a new connection and drops a connection
 * whose server turned replica. It raises on a failed command; the loop
 * counts the error and goes on, as an application's retry would.
 */
export function redisPyWriter(config: WriterConfig, prefix: string): Writer {
  const log: WriteLog = { client: "redis-py", successes: [], errors: [], acknowledged: [], written: [] };
  const script = path.join(config.workDir, "redis-py-writer.py");
  fs.writeFileSync(script, PYTHON_WRITER);
  const args = {
    sentinels: config.sentinels.map((s) => [s.host, s.port]),
    masterName: config.masterName,
    user: config.app.username,
    password: config.app.password,
    sentinelUser: config.sentinelClient.username,
    sentinelPassword: config.sentinelClient.password,
    caFile: config.caFile,
    prefix,
    maxSeconds: MAX_RUN_MS / 1000,
  };
  // Debian's python3 (python3-redis), not whatever python3 comes first on the PATH.
  const child: ChildProcess = spawn("/usr/bin/python3", ["-u", script, JSON.stringify(args)], { stdio: ["ignore", "pipe", "pipe"] });
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  let buffer = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) {
      const event = JSON.parse(line);
      if (event.written) log.written.push(event.written);
      if (event.ok) {
        log.successes.push(Math.round(event.ok));
        if (event.acked >= 1) log.acknowledged.push(event.key);
        markStarted();
      }
      if (event.err) log.errors.push({ at: Math.round(event.err), message: event.msg });
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => {
    if (log.successes.length === 0) log.errors.push({ at: Date.now(), message: `python writer exited: ${stderr.trim().slice(-500)}` });
  });
  return {
    log,
    started: Promise.race([started, exited.then(() => Promise.reject(new Error(`the redis-py writer exited: ${stderr}`)))]),
    async stop() {
      child.kill("SIGTERM");
      const late = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), 5000).unref());
      if ((await Promise.race([exited, late])) === "late") child.kill("SIGKILL");
      await exited;
    },
  };
}
