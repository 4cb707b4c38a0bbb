/**
 * The rolling restart's node command (redis-node-restart, a boot library
 * file of the synthesized stack) on real redis-server and redis-sentinel
 * processes of the synthesized example, one network namespace per node. No
 * systemd here: the command's service manager is a stand-in that hands each
 * request to this suite, which does what the units' drop-ins make systemd
 * do: for redis-server, ExecStop= (the synthesized planned-failover step
 * with "stop"), SIGTERM, ExecStartPre= (the synthesized role decision), the
 * start; for redis-sentinel, SIGTERM and the start. Two Sentinel-aware
 * applications (ioredis, redis-py) write with SET + WAIT 1 1000 throughout
 * the roll; the longest write gap is printed, never asserted on time.
 * Needs root; the scenarios run in order and share one topology. The same
 * for a group with dedicated sentinel nodes: the command on its data nodes
 * asks them as node-handover and restarts no sentinel.
 */
import * as fs from "fs";
import * as path from "path";
import Redis from "ioredis";
import { ConnectionOptions } from "tls";
import { SentinelOptions } from "../../lib";
import { BUILTIN_USERS, COMMON_SCRIPT_PATH, libraryPathOnNode, NODE_ENV_PATH, NODE_RESTART_SCRIPT, PLANNED_FAILOVER_STEP_PATH, REDIS_ROLE_STEP } from "../../lib/boot";
import { info, Login, withClient } from "./harness/client";
import { run, RunResult, sleep, Topology } from "./harness/netns";
import { allLogs, isRunning, processOf, restart, stop, stopAll, waitUntil } from "./harness/processes";
import { errorSummary, ioredisWriter, longestGap, redisPyWriter, Writer, WriterConfig } from "./harness/writers";
import { decideRole, GroupLayout, GroupNode, layOutGroup, nodeAtAddress, provideTestSecrets, startGroup, testPasswords } from "./synthesized-group";
import { synthesizeBasicExample } from "./synthesized-nodes";
import { describeIntegration, ScenarioRun } from "./harness/suite";

const SUITE = "Rolling restart with redis-node-restart, with the synthesized command, steps and configuration";
const PASSWORDS = testPasswords();
const login = (username: string): Login => ({ username, password: PASSWORDS[username] });
const ADMIN = login("admin");
// How long the command may wait for a node to be back in sync (its own bound; the suite's is a minute more).
const SYNC_SECONDS = 120;

/**
 * The service manager the command calls in place of systemctl: it leaves its
 * arguments as a request for the suite and exits with the code the suite
 * writes back (bounded: 5 minutes).
 */
const SERVICE_MANAGER = `#!/bin/bash
set -euo pipefail
id=$(date +%s%N).$$
printf '%s\\n' "$*" >"$RESTART_REQUESTS/$id.tmp"
mv "$RESTART_REQUESTS/$id.tmp" "$RESTART_REQUESTS/$id.request"
for ((i = 0; i < 3000; i++)); do
  if [[ -f $RESTART_REQUESTS/$id.done ]]; then exit "$(<"$RESTART_REQUESTS/$id.done")"; fi
  sleep 0.1
done
echo "the suite did not answer $*" >&2
exit 1
`;

const COMMANDS = ["redis-server", "redis-sentinel", "redis-cli", "ip", "iptables", "flock", "/usr/bin/python3"];

describeIntegration(SUITE, COMMANDS, () => scenarios({}));
describeIntegration(`${SUITE} (dedicated sentinel nodes: the command asks them as node-handover)`, COMMANDS, () => scenarios({ dedicatedNodeCount: 3 }));

function scenarios(sentinelOptions: SentinelOptions): void {
  const dedicated = (sentinelOptions.dedicatedNodeCount ?? 0) > 0;
  let topology: Topology | undefined;
  let layout: GroupLayout | undefined;
  let nodes: GroupNode[] = [];
  // Data nodes, and the nodes that run a sentinel: the same nodes unless the sentinels are dedicated ones.
  let dataNodes: GroupNode[] = [];
  let sentinelNodes: GroupNode[] = [];
  let masterName = "";
  let redisPort = 0;
  let sentinelPort = 0;
  let tls: ConnectionOptions | undefined;
  let writerConfig: WriterConfig | undefined;
  const progress = new ScenarioRun();
  const { tracked, scenario } = progress;
  // What the command and the stand-in did, for the logs of a failed run.
  const transcript: string[] = [];

  const nodeAt = (ip: string) => nodeAtAddress(nodes, ip);
  const redis = <T>(node: GroupNode, fn: (c: Redis) => Promise<T>) => withClient(node.ip, redisPort, ADMIN, fn, { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });
  const sentinel = (node: GroupNode, ...args: string[]) =>
    withClient(node.ip, sentinelPort, ADMIN, (c) => c.call("SENTINEL", ...args), { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });

  /** Every sentinel names the same master, which has 2 online replicas. */
  async function healthyMaster(): Promise<GroupNode> {
    const named = await Promise.all(sentinelNodes.map(async (n) => ((await sentinel(n, "get-master-addr-by-name", masterName)) as string[])[0]));
    if (new Set(named).size !== 1) throw new Error(`sentinels disagree: ${named.join(", ")}`);
    const master = nodeAt(named[0]);
    const repl = await redis(master, (c) => info(c, "replication"));
    const online = Object.entries(repl).filter(([k, v]) => /^slave\d+$/.test(k) && v.includes("state=online"));
    if (online.length !== 2) throw new Error(`master ${master.ip} has ${online.length} online replicas`);
    return master;
  }
  const waitHealthy = (what: string) => waitUntil(healthyMaster, { timeoutMs: 90_000, intervalMs: 250, what });

  /** Where a node's command, the steps it sources and its settings are; requests of its service manager land in `requests`. */
  const dirsOf = (node: GroupNode) => {
    const root = path.join(layout!.workRoot, `${node.name}-restart`);
    return { lib: path.join(root, "lib"), env: path.join(root, "node.env"), requests: path.join(root, "requests"), run: path.join(root, "run"), bin: path.join(root, "service-manager") };
  };

  /** The command and the library files it sources as the node's boot installs them, its settings pointed at the run's files. */
  function install(node: GroupNode): void {
    const dirs = dirsOf(node);
    const put = (file: string, source: string, mode = 0o644) => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, layout!.fileOf(node, source), { mode });
    };
    put(path.join(dirs.lib, "common.sh"), COMMON_SCRIPT_PATH);
    put(path.join(dirs.lib, "redis.sh"), libraryPathOnNode("redis.sh"));
    put(path.join(dirs.lib, "node-restart.sh"), NODE_RESTART_SCRIPT, 0o755);
    for (const step of [PLANNED_FAILOVER_STEP_PATH, REDIS_ROLE_STEP]) put(path.join(dirs.lib, "parts", path.basename(step)), step, 0o755);
    const overrides = {
      NODE_OPS_PASSWORD_FILE: path.join(node.secretsDir, "node-ops.password"),
      TLS_DIR: path.join(node.dir, "tls"),
      // With dedicated sentinels: where the planned-failover step's prepare keeps node-handover's password.
      ...(dedicated ? { HANDOVER_PASSWORD_FILE: path.join(layout!.workRoot, `${node.name}-node-handover.password`) } : {}),
    };
    fs.writeFileSync(dirs.env, layout!.fileOf(node, NODE_ENV_PATH) + Object.entries(overrides).map(([k, v]) => `${k}='${v}'\n`).join(""), { mode: 0o600 });
    fs.mkdirSync(dirs.requests, { recursive: true });
    fs.writeFileSync(dirs.bin, SERVICE_MANAGER, { mode: 0o755 });
  }

  /** The boot's prepare phase of the planned-failover step (node-handover's password, from the secrets the boot fetched). */
  async function prepare(node: GroupNode): Promise<void> {
    const dirs = dirsOf(node);
    await run(["bash", path.join(dirs.lib, "parts", path.basename(PLANNED_FAILOVER_STEP_PATH)), "prepare"], {
      env: { REDIS_NODE_LIB: dirs.lib, REDIS_NODE_ENV: dirs.env, REDIS_NODE_SECRETS_DIR: node.secretsDir },
    });
  }

  const envOf = (node: GroupNode) => {
    const dirs = dirsOf(node);
    const sentinelConf = processOf(node.name, "sentinel")?.confFile;
    // redis.conf: with dedicated sentinels the command asks the master's ROLE (and the step the replicas') as replication.
    return { REDIS_NODE_LIB: dirs.lib, REDIS_NODE_ENV: dirs.env, REDIS_NODE_RUN_DIR: dirs.run, REDIS_NODE_REDIS_CONF: path.join(node.dir, "redis.conf"), ...(sentinelConf ? { REDIS_NODE_SENTINEL_CONF: sentinelConf } : {}) };
  };

  /** What systemd does for `systemctl restart UNIT` with the node's drop-ins; returns the exit code for the command. */
  async function serve(node: GroupNode, request: string): Promise<number> {
    const [verb, unit] = request.trim().split(" ");
    if (verb === "restart" && unit === "redis-server.service") {
      // ExecStop=: the planned failover step, then SIGTERM of the main process.
      const dirs = dirsOf(node);
      const stepRun = await topology!.exec(node.name, ["bash", path.join(dirs.lib, "parts", path.basename(PLANNED_FAILOVER_STEP_PATH)), "stop"], {
        // The node's configs (the logins the step reads from them) and state directory (failover-timeout.pending), as on a node.
        env: { ...envOf(node), REDIS_NODE_STATE_DIR: path.join(layout!.workRoot, `${node.name}-state`) },
        timeoutMs: 60_000,
        allowFailure: true,
      });
      transcript.push(`${node.name} ExecStop: ${stepRun.stderr}`);
      await stop(node.name, "redis");
      // ExecStartPre=: the role decision; a refusal fails the start, as it fails the unit's.
      const decision = await decideRole(layout!, node);
      transcript.push(`${node.name} ExecStartPre (${decision.code}): ${decision.log}`);
      if (decision.code !== 0) return 1;
      await restart(node.name, "redis");
      return 0;
    }
    if (verb === "restart" && unit === "redis-sentinel.service") {
      await stop(node.name, "sentinel");
      await restart(node.name, "sentinel");
      return 0;
    }
    transcript.push(`${node.name}: the stand-in does not know "${request.trim()}"`);
    return 1;
  }

  /** Runs redis-node-restart (with `args`) in the node's namespace, serving its service manager's requests meanwhile. */
  async function runCommand(node: GroupNode, ...args: string[]): Promise<RunResult & { requests: string[] }> {
    return runCommandWith(node, {}, ...args);
  }

  /** The same with settings of the command's (`RESTART_...`) in its environment. */
  async function runCommandWith(node: GroupNode, settings: Record<string, string>, ...args: string[]): Promise<RunResult & { requests: string[] }> {
    const dirs = dirsOf(node);
    const requests: string[] = [];
    let running = true;
    const served = (async () => {
      // Bounded by the command's own time limit (the loop ends when it returns).
      for (let i = 0; running && i < 20_000; i++) {
        for (const file of fs.readdirSync(dirs.requests).filter((f) => f.endsWith(".request")).sort()) {
          const request = fs.readFileSync(path.join(dirs.requests, file), "utf8");
          fs.unlinkSync(path.join(dirs.requests, file));
          requests.push(request.trim());
          let code = 1;
          try {
            code = await serve(node, request);
          } catch (error) {
            transcript.push(`${node.name}: ${request.trim()} failed: ${(error as Error).message}`);
          }
          fs.writeFileSync(path.join(dirs.requests, file.replace(/\.request$/, ".done")), String(code));
        }
        await sleep(100);
      }
    })();
    try {
      const result = await topology!.exec(node.name, ["bash", path.join(dirs.lib, "node-restart.sh"), ...args], {
        env: { ...envOf(node), REDIS_NODE_SERVICE_MANAGER: dirs.bin, RESTART_REQUESTS: dirs.requests, RESTART_SYNC_SECONDS: String(SYNC_SECONDS), ...settings },
        timeoutMs: (SYNC_SECONDS + 60) * 1000 * 2,
        allowFailure: true,
      });
      transcript.push(`${node.name} redis-node-restart ${args.join(" ")} (${result.code}):\n${result.stdout}${result.stderr}`);
      return { ...result, requests };
    } finally {
      running = false;
      await served;
    }
  }

  async function missingKeys(node: GroupNode, keys: string[]): Promise<string[]> {
    const lost: string[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await redis(node, (c) => c.mget(...chunk));
      chunk.forEach((key, j) => values[j] !== key.replace(/^.*:k/, "") && lost.push(key));
    }
    return lost;
  }

  beforeAll(tracked(async () => {
    layout = await layOutGroup(synthesizeBasicExample({ sentinel: sentinelOptions }));
    topology = layout.topology;
    nodes = layout.nodes;
    dataNodes = nodes.filter((n) => n.runsRedis);
    sentinelNodes = nodes.filter((n) => n.runsSentinel);
    expect([dataNodes.length, sentinelNodes.length, nodes.length]).toEqual(dedicated ? [3, 3, 6] : [3, 3, 3]);
    const group = await startGroup(layout, provideTestSecrets(PASSWORDS));
    ({ masterName, redisPort, sentinelPort, tls } = group);
    for (const node of dataNodes) install(node);
    if (dedicated) for (const node of dataNodes) await prepare(node);
    const caFile = path.join(layout.workRoot, "ca.pem");
    fs.writeFileSync(caFile, group.tls.ca as string);
    writerConfig = {
      sentinels: sentinelNodes.map((n) => ({ host: n.ip, port: sentinelPort })),
      masterName,
      app: login("app"),
      sentinelClient: login(BUILTIN_USERS.sentinelClient),
      tls: group.tls,
      caFile,
      workDir: layout.workRoot,
    };
    expect(await waitHealthy("a master with 2 online replicas, seen by 3 sentinels")).toBe(group.initialMaster);
  }), 120_000);

  afterAll(async () => {
    try {
      if (progress.failed) console.error(`logs of the failed run (kept in ${layout?.workRoot}):\n${allLogs(60)}\ncommand and stand-in:\n${transcript.join("\n")}`);
    } finally {
      try {
        await stopAll();
      } finally {
        await topology?.destroy();
      }
    }
    if (!progress.failed && layout) fs.rmSync(layout.workRoot, { recursive: true, force: true });
  }, 60_000);

  /**
   * Until every sentinel has looked at the replicas since their last change
   * (INFO every 10 s), or while a sentinel is in TILT mode (30 s after a
   * stalled timer, which a loaded machine causes), the command refuses: as
   * an operator would, ask again until it says yes.
   */
  const waitAllowed = (node: GroupNode) =>
    waitUntil(async () => {
      const check = await runCommand(node, "--check");
      return check.code === 0 && check;
    }, { timeoutMs: 90_000, intervalMs: 500, what: `the command on ${node.name} to find the group healthy` }).then((r) => r, (e: Error) => {
      throw new Error(`${e.message}; its last answer:\n${transcript.filter((t) => t.startsWith(`${node.name} redis-node-restart --check`)).at(-1)}`);
    });

  scenario("1. --check on a healthy group: every node may restart, each says its role, nothing is restarted", 120_000, async () => {
    const master = await waitHealthy("a healthy group");
    await waitAllowed(master);
    for (const node of dataNodes) {
      const r = await runCommand(node, "--check");
      const role = node === master ? "master" : `replica of ${master.ip}:${redisPort}`;
      expect({ node: node.name, code: r.code, requests: r.requests }).toEqual({ node: node.name, code: 0, requests: [] });
      expect(r.stdout).toContain(`this node (${node.ip}:${redisPort}) is ${role}\n`);
      expect(r.stdout).toMatch(/may restart now: yes/);
    }
  });

  scenario("2. refused while a replica is down (on the other replica and on the master); nothing is restarted", 180_000, async () => {
    const master = await waitHealthy("a healthy group");
    await waitAllowed(master);
    const [down, other] = dataNodes.filter((n) => n !== master);
    await stop(down.name, "redis");
    try {
      for (const [node, args] of [[other, ["--check"]], [master, []]] as const) {
        const r = await runCommand(node, ...args);
        expect({ node: node.name, code: r.code, requests: r.requests }).toEqual({ node: node.name, code: 1, requests: [] });
        // The master's own list: its INFO, asked as the sentinels log in; with dedicated sentinels its ROLE, asked
        // as replication from a replica, as node-ops on the master itself.
        const listed = `not now: the master does not list replica ${down.ip}:${redisPort} as online (down or still syncing)`;
        console.log(`refused on ${node.name} (${node === master ? "master" : "replica"}):\n${r.stdout.split("\n").filter((l) => /not now:/.test(l)).join("\n")}`);
        expect(r.stdout).toMatch(listed);
        expect(r.stdout).toMatch(/may restart now: no/);
      }
      // The refused master still is the master of every sentinel, and takes writes.
      expect(await redis(master, (c) => c.set("rr2:key", "1"))).toBe("OK");
    } finally {
      if (!isRunning(down.name, "redis")) await restart(down.name, "redis");
    }
    // Back and attached; allowed again once the sentinels have seen it so.
    await waitHealthy("the replica back");
    expect((await waitAllowed(other)).stdout).toMatch(/may restart now: yes/);
  });

  scenario("2b. a node not back in sync within RESTART_SYNC_SECONDS says where it stands (its offset and the master's) and fails", 120_000, async () => {
    const master = await waitHealthy("a healthy group");
    const replica = dataNodes.find((n) => n !== master)!;
    await waitAllowed(replica);
    // No offset is close enough (lag bound -1 byte): the wait ends at its deadline, naming both offsets.
    const r = await runCommandWith(replica, { RESTART_MAX_LAG_BYTES: "-1", RESTART_SYNC_SECONDS: "10" });
    expect({ code: r.code, requests: r.requests }).toEqual({ code: 1, requests: ["restart redis-server.service"] });
    expect(r.stderr).toMatch(/not back in sync after 10s: offset \d+, the master's offset \d+\n/);
    expect(r.stderr).toMatch(/ERROR: redis-server is not back in sync after 10s: do not restart another node/);
    expect(r.stderr).not.toMatch(/unbound variable/);
    await waitHealthy("the replica back");
  });

  scenario("3. measure: a rolling restart (replicas, then the master) under two writers; no acknowledged write lost, every node back in sync", 600_000, async () => {
    const oldMaster = await waitHealthy("a healthy group");
    await waitAllowed(oldMaster);
    const order = [...dataNodes.filter((n) => n !== oldMaster), oldMaster];
    const writers: Writer[] = [ioredisWriter(writerConfig!, "rr3"), redisPyWriter(writerConfig!, "rr3")];
    const results: Array<{ node: GroupNode; result: RunResult & { requests: string[] }; ms: number }> = [];
    let startedAt = 0;
    let endedAt = 0;
    try {
      await Promise.all(writers.map((w) => w.started));
      await sleep(1000);
      startedAt = Date.now();
      for (const node of order) {
        await waitAllowed(node);
        const t0 = Date.now();
        const result = await runCommand(node);
        results.push({ node, result, ms: Date.now() - t0 });
        // The next node only after this one returned 0, as the README says.
        expect({ node: node.name, code: result.code, tail: result.stdout.split("\n").slice(-4) }).toMatchObject({ node: node.name, code: 0 });
      }
      endedAt = Date.now();
      await waitUntil(() => writers.every((w) => w.log.successes.some((t) => t > endedAt + 2000)), { timeoutMs: 60_000, intervalMs: 100, what: "both writers to write again after the roll" });
    } finally {
      await Promise.all(writers.map((w) => w.stop()));
    }
    const newMaster = await waitHealthy("a healthy group after the roll");
    const acknowledged = writers.flatMap((w) => w.log.acknowledged);
    const summary = writers.map((w) => `${w.log.client}: longest gap ${longestGap(w.log, startedAt, endedAt)} ms, errors ${errorSummary(w.log, startedAt)}, ${w.log.acknowledged.length} acknowledged`).join("; ");
    const steps = results.map(({ node, result, ms }) => `${node.name} ${ms} ms (${/out for (\d+s)/.exec(result.stdout)?.[1] ?? "?"} out)`).join(", ");
    // Where the master's stop spent its time: the planned-failover step's own log.
    const handOver = transcript.filter((t) => t.startsWith(`${oldMaster.name} ExecStop: `)).at(-1) ?? "";
    console.log(`measure: rolling restart${dedicated ? " (dedicated sentinels)" : ""} of ${order.length} nodes in ${endedAt - startedAt} ms (${steps}): ${summary}\n  the master's hand-over:\n${handOver.trim().split("\n").map((l) => `    ${l}`).join("\n")}`);
    // Each run restarted redis-server, then the node's sentinel (none with dedicated sentinels), through the service manager.
    const requests = ["restart redis-server.service", ...(dedicated ? [] : ["restart redis-sentinel.service"])];
    for (const { result } of results) expect(result.requests).toEqual(requests);
    if (dedicated) for (const { result } of results) expect(result.stdout).not.toMatch(/redis-sentinel/);
    expect(results.at(-1)!.result.stdout).toMatch(/the master: the restart's stop step hands the role over first/);
    // The step ran as on a node: it asked the replicas' ROLE and the sentinels with the node's logins, and
    // every sentinel named the new master before the clients moved. With dedicated sentinels the step waits
    // (at most 1 s) for all but the leader; one run in about ten, after a promotion seen within 0.2 s, they
    // had not switched by then: the step says so ("no") and the clients move anyway.
    expect(handOver).toMatch(new RegExp(`every promotable replica holds offset[^]*in sync before the clients moved: yes; ` +
      (dedicated ? "every sentinel but the leader named it: (yes|no)" : "every sentinel named it: yes") + "[^]*hand-over done"));
    expect(newMaster).not.toBe(oldMaster);
    for (const w of writers) expect(w.log.acknowledged.length).toBeGreaterThan(0);
    expect(await missingKeys(newMaster, acknowledged)).toEqual([]);
    // Every node back in sync: the replicas' offsets match the master's once writes stopped.
    await waitUntil(async () => {
      const masterOffset = Number((await redis(newMaster, (c) => info(c, "replication"))).master_repl_offset);
      const offsets = await Promise.all(dataNodes.filter((n) => n !== newMaster).map(async (n) => {
        const repl = await redis(n, (c) => info(c, "replication"));
        return repl.role === "slave" && repl.master_host === newMaster.ip && repl.master_link_status === "up" && repl.master_sync_in_progress === "0" && Number(repl.slave_repl_offset);
      }));
      return offsets.every((o) => o === masterOffset);
    }, { timeoutMs: 30_000, intervalMs: 250, what: "both replicas at the master's offset" });
    for (const node of dataNodes) expect(await missingKeys(node, acknowledged)).toEqual([]);
    for (const node of dataNodes) expect((await waitAllowed(node)).code).toBe(0);
  });
}
