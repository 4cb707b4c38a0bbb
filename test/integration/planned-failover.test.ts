/**
 * The planned failover before a stop, on real redis-server and
 * redis-sentinel processes of the synthesized example (one network
 * namespace per node): the planned-failover step of the synthesized user
 * data runs unmodified in the node's namespace with "stop", as systemd's
 * ExecStop= runs it, then redis-server gets SIGTERM, as systemd sends it.
 * Two Sentinel-aware applications (ioredis and redis-py) write throughout;
 * the write gaps of a crash, of a bare SENTINEL FAILOVER and of the planned
 * stop, the partition window and the effect of stalled replicas are printed
 * ("measure:" lines, which `npm run bench:failover` collects), never
 * asserted on time. Needs root; the scenarios run in order and share one
 * topology. The same for a group with dedicated sentinel nodes, whose data
 * nodes hand over through them as node-handover (a crash, the planned stop,
 * the restart, and what node-handover may not do).
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import Redis from "ioredis";
import { ConnectionOptions } from "tls";
import { SentinelOptions } from "../../lib";
import { BUILTIN_USERS, COMMON_SCRIPT_PATH, NODE_ENV_PATH, PLANNED_FAILOVER_STEP_PATH } from "../../lib/boot";
import { connect, info, Login, withClient } from "./harness/client";
import { run, RunResult, sleep, Topology } from "./harness/netns";
import { allLogs, isRunning, kill9, processOf, restart, stop, stopAll, waitUntil } from "./harness/processes";
import { errorSummary, ioredisWriter, longestGap, redisPyWriter, WriteLog, Writer, WriterConfig } from "./harness/writers";
import { GroupLayout, GroupNode, layOutGroup, startGroup, provideTestSecrets, testPasswords, nodeAtAddress, redisHelpersOf } from "./synthesized-group";
import { synthesizeBasicExample } from "./synthesized-nodes";
import { describeIntegration, ScenarioRun } from "./harness/suite";

const SUITE = "Planned failover before a stop, with the synthesized step and configuration";
const PASSWORDS = testPasswords(`pf pw "q" \\ #h ${randomBytes(4).toString("hex")}`);
const login = (username: string): Login => ({ username, password: PASSWORDS[username] });
const ADMIN = login("admin");
const APP = login("app");
const SENTINEL_CLIENT = login(BUILTIN_USERS.sentinelClient);
const HANDOVER = login(BUILTIN_USERS.nodeHandover);
const REPLICATION = login(BUILTIN_USERS.replication);
// Longer than Sentinel's TILT mode (30 s), which a loaded machine's stall of its timer triggers on every sentinel.
const SENTINEL_WAIT_MS = 45_000;

const COMMANDS = ["redis-server", "redis-sentinel", "redis-cli", "ip", "iptables", "/usr/bin/python3"];

describeIntegration(SUITE, COMMANDS, () => scenarios({}));
describeIntegration(`${SUITE} (dedicated sentinel nodes: the data nodes hand over through them as node-handover)`, COMMANDS, () => scenarios({ dedicatedNodeCount: 3 }));

function scenarios(sentinelOptions: SentinelOptions): void {
  const dedicated = (sentinelOptions.dedicatedNodeCount ?? 0) > 0;
  // Scenarios about the hand-over itself; the others (a bare SENTINEL FAILOVER, stalled replicas, a partition) run once, on the group of sentinels on the data nodes.
  const coLocatedOnly = (name: string, timeoutMs: number, fn: () => Promise<void>) => (dedicated ? undefined : scenario(name, timeoutMs, fn));
  let topology: Topology | undefined;
  let layout: GroupLayout | undefined;
  let nodes: GroupNode[] = [];
  // Data nodes, and the nodes that run a sentinel: the same nodes unless the sentinels are dedicated ones.
  let dataNodes: GroupNode[] = [];
  let sentinelNodes: GroupNode[] = [];
  let masterName = "";
  let redisPort = 0;
  let sentinelPort = 0;
  let downAfterMs = 0;
  let tls: ConnectionOptions | undefined;
  let writerConfig: WriterConfig | undefined;
  // Scenarios in order; the teardown keeps the logs when one did not finish.
  const progress = new ScenarioRun();
  const { tracked, scenario } = progress;
  const stepOutputs: string[] = [];
  // Every key a replica acknowledged (WAIT) in any scenario: none may ever be lost.
  const acknowledged: string[] = [];
  let planned: { oldMaster: GroupNode; newMaster: GroupNode } | undefined;

  const nodeAt = (ip: string) => nodeAtAddress(nodes, ip);
  /** The other data nodes. */
  const others = (node: GroupNode) => dataNodes.filter((n) => n !== node);
  /** The sentinels but the one on `node` (all of them when the sentinels are dedicated). */
  const sentinelsBesides = (node: GroupNode) => sentinelNodes.filter((n) => n !== node);
  const redis = <T>(node: GroupNode, fn: (c: Redis) => Promise<T>) => withClient(node.ip, redisPort, ADMIN, fn, { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });
  const sentinel = (node: GroupNode, ...args: string[]) =>
    withClient(node.ip, sentinelPort, ADMIN, (c) => c.call("SENTINEL", ...args), { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });

  /** SENTINEL MASTER on the node's sentinel, as a record. */
  async function sentinelMaster(node: GroupNode): Promise<Record<string, string>> {
    const flat = (await sentinel(node, "master", masterName)) as string[];
    return Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
  }

  async function agreedMaster(among: GroupNode[] = sentinelNodes): Promise<GroupNode> {
    const named = await Promise.all(among.map(async (n) => ((await sentinel(n, "get-master-addr-by-name", masterName)) as string[])[0]));
    if (new Set(named).size !== 1) throw new Error(`sentinels disagree: ${named.join(", ")}`);
    return nodeAt(named[0]);
  }

  /** Every node up, the master with 2 online replicas, every sentinel naming it with 2 replicas and 2 other sentinels. */
  async function healthyMaster(): Promise<GroupNode> {
    const master = await agreedMaster();
    const repl = await redis(master, (c) => info(c, "replication"));
    const online = Object.entries(repl).filter(([k, v]) => /^slave\d+$/.test(k) && v.includes("state=online"));
    if (online.length !== 2) throw new Error(`master ${master.ip} has ${online.length} online replicas`);
    for (const n of sentinelNodes) {
      const m = await sentinelMaster(n);
      if (m.flags !== "master" || m["num-slaves"] !== "2" || m["num-other-sentinels"] !== "2") {
        throw new Error(`sentinel on ${n.ip}: flags ${m.flags}, num-slaves ${m["num-slaves"]}, num-other-sentinels ${m["num-other-sentinels"]}`);
      }
      // Each replica seen as one in the sentinel's last INFO of it (every 10 s): a sentinel whose last INFO
      // still showed a restarted old master as a master would take the next promotion for that node coming
      // back, and make it a replica again at once (Sentinel waits 8 s only after a role change it saw).
      const replicas = (await sentinel(n, "replicas", masterName)) as string[][];
      const roles = replicas.map((flat) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : []))));
      const stale = roles.filter((r) => r["role-reported"] !== "slave").map((r) => `${r.ip} ${r["role-reported"]}`);
      if (stale.length > 0) throw new Error(`sentinel on ${n.ip} last saw ${stale.join(", ")}`);
    }
    return master;
  }
  /** Restarts what an earlier scenario left stopped, then waits for a healthy group. */
  const waitHealthy = async (what: string) => {
    for (const node of dataNodes) if (!isRunning(node.name, "redis")) await restart(node.name, "redis");
    return waitUntil(healthyMaster, { timeoutMs: 90_000, intervalMs: 250, what });
  };

  interface SentinelView {
    readonly sentinel: string;
    readonly master: string;
    readonly failoverTimeout: string;
  }
  /** What each sentinel says in SENTINEL MASTER: the master's address and the failover-timeout. */
  const sentinelViews = () =>
    Promise.all(sentinelNodes.map(async (n): Promise<SentinelView> => {
      const m = await sentinelMaster(n);
      return { sentinel: n.name, master: `${m.ip}:${m.port}`, failoverTimeout: m["failover-timeout"] };
    }));

  /** Seconds since each replica's last acknowledgement, as the master's INFO says ("10.0.0.2 0, 10.0.0.3 1"). */
  async function replicaLags(master: GroupNode): Promise<string> {
    const repl = await redis(master, (c) => info(c, "replication"));
    return Object.entries(repl)
      .filter(([k]) => /^slave\d+$/.test(k))
      .map(([, v]) => `${/ip=([^,]+)/.exec(v)?.[1]} ${/lag=(\d+)/.exec(v)?.[1]}`)
      .join(", ");
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

  /** The step as cloud-init writes it on the node, its settings pointed at the run's files. */
  const stepDirs = (node: GroupNode) => ({ lib: path.join(layout!.workRoot, `${node.name}-lib`), env: path.join(layout!.workRoot, `${node.name}-node.env`) });
  function installStep(node: GroupNode): void {
    const dirs = stepDirs(node);
    fs.mkdirSync(path.join(dirs.lib, "parts"), { recursive: true });
    fs.writeFileSync(path.join(dirs.lib, "common.sh"), layout!.fileOf(node, COMMON_SCRIPT_PATH));
    fs.copyFileSync(redisHelpersOf(layout!, node), path.join(dirs.lib, "redis.sh"));
    fs.writeFileSync(path.join(dirs.lib, "parts", path.basename(PLANNED_FAILOVER_STEP_PATH)), layout!.fileOf(node, PLANNED_FAILOVER_STEP_PATH), { mode: 0o755 });
    const overrides = {
      NODE_OPS_PASSWORD_FILE: path.join(node.secretsDir, "node-ops.password"),
      TLS_DIR: path.join(node.dir, "tls"),
      // With dedicated sentinels: where the step's prepare keeps node-handover's password.
      ...(dedicated ? { HANDOVER_PASSWORD_FILE: path.join(layout!.workRoot, `${node.name}-node-handover.password`) } : {}),
    };
    fs.writeFileSync(dirs.env, layout!.fileOf(node, NODE_ENV_PATH) + Object.entries(overrides).map(([k, v]) => `${k}='${v}'\n`).join(""), { mode: 0o600 });
  }

  /** The boot's prepare phase of the step (from the secrets the boot fetched); fails unless it succeeds. */
  async function prepareStep(node: GroupNode): Promise<void> {
    const dirs = stepDirs(node);
    await run(["bash", path.join(dirs.lib, "parts", path.basename(PLANNED_FAILOVER_STEP_PATH)), "prepare"], {
      env: { REDIS_NODE_LIB: dirs.lib, REDIS_NODE_ENV: dirs.env, REDIS_NODE_SECRETS_DIR: node.secretsDir },
    });
  }

  /** ExecStop=: the step with "stop" in the node's namespace; `env` adds what systemd sets (EXIT_CODE after a crash). */
  async function runStep(node: GroupNode, env: Record<string, string> = {}): Promise<RunResult> {
    const dirs = stepDirs(node);
    const result = await topology!.exec(node.name, ["bash", path.join(dirs.lib, "parts", path.basename(PLANNED_FAILOVER_STEP_PATH)), "stop"], {
      env: {
        REDIS_NODE_LIB: dirs.lib,
        REDIS_NODE_ENV: dirs.env,
        REDIS_NODE_SENTINEL_CONF: path.join(node.dir, "sentinel.conf"),
        // With dedicated sentinels the step asks the replicas' ROLE with the node's masteruser/masterauth.
        REDIS_NODE_REDIS_CONF: path.join(node.dir, "redis.conf"),
        // The node's state directory, as the role decision has it (failover-timeout.pending).
        REDIS_NODE_STATE_DIR: path.join(layout!.workRoot, `${node.name}-state`),
        ...env,
      },
      timeoutMs: 60_000,
      allowFailure: true,
    });
    stepOutputs.push(`${node.name}: ${result.stderr}${result.stdout}`);
    return result;
  }

  /** Both applications write while `event` runs and until each wrote again `settleMs` after it; returns their logs. */
  async function whileWriting(prefix: string, event: () => Promise<number>, settleMs = 3000, keep = true): Promise<{ at: number; logs: WriteLog[] }> {
    const writers: Writer[] = [ioredisWriter(writerConfig!, prefix), redisPyWriter(writerConfig!, prefix)];
    let at = 0;
    try {
      await Promise.all(writers.map((w) => w.started));
      await sleep(1000);
      at = await event();
      await waitUntil(() => writers.every((w) => w.log.successes.some((t) => t > at + settleMs)), {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: "both applications to write again",
      });
    } finally {
      await Promise.all(writers.map((w) => w.stop()));
    }
    if (keep) for (const w of writers) acknowledged.push(...w.log.acknowledged);
    return { at, logs: writers.map((w) => w.log) };
  }

  const describeWrites = (logs: WriteLog[], at: number) =>
    logs.map((l) => `${l.client}: longest gap ${longestGap(l, at - 1000, Math.max(...l.successes))} ms, errors ${errorSummary(l, at - 1000)}, ${l.acknowledged.length} acknowledged`).join("; ");

  beforeAll(tracked(async () => {
    layout = await layOutGroup(synthesizeBasicExample({ sentinel: sentinelOptions }));
    topology = layout.topology;
    nodes = layout.nodes;
    dataNodes = nodes.filter((n) => n.runsRedis);
    sentinelNodes = nodes.filter((n) => n.runsSentinel);
    expect([dataNodes.length, sentinelNodes.length, nodes.length]).toEqual(dedicated ? [3, 3, 6] : [3, 3, 3]);
    const group = await startGroup(layout, provideTestSecrets(PASSWORDS));
    ({ masterName, redisPort, sentinelPort, downAfterMs, tls } = group);
    for (const node of dataNodes) installStep(node);
    for (const node of dataNodes) await prepareStep(node);
    const caFile = path.join(layout.workRoot, "ca.pem");
    fs.writeFileSync(caFile, group.tls.ca as string);
    writerConfig = {
      sentinels: sentinelNodes.map((n) => ({ host: n.ip, port: sentinelPort })),
      masterName,
      app: APP,
      sentinelClient: SENTINEL_CLIENT,
      tls: group.tls,
      caFile,
      workDir: layout.workRoot,
    };
    expect(await waitHealthy("a master with 2 online replicas, seen by 3 sentinels")).toBe(group.initialMaster);
  }), 120_000);

  afterAll(async () => {
    try {
      if (progress.failed) console.error(`logs of the failed run (kept in ${layout?.workRoot}):\n${allLogs(60)}\nstep output:\n${stepOutputs.join("\n")}`);
    } finally {
      try {
        await stopAll();
      } finally {
        await topology?.destroy();
      }
    }
    if (!progress.failed && layout) fs.rmSync(layout.workRoot, { recursive: true, force: true });
  }, 60_000);

  scenario("1. on a replica, and on the master after a crash (systemd sets EXIT_CODE), the step changes nothing", 60_000, async () => {
    const master = await waitHealthy("a healthy group");
    const replica = others(master)[0];
    const onReplica = await runStep(replica);
    const afterCrash = await runStep(master, { EXIT_CODE: "killed", EXIT_STATUS: "KILL", SERVICE_RESULT: "signal" });
    expect([onReplica.code, afterCrash.code]).toEqual([0, 0]);
    expect(onReplica.stderr).toMatch(/no hand-over: this node is a replica/);
    expect(afterCrash.stderr).toMatch(/no hand-over: redis-server is gone \(killed KILL\): a crash, not a stop/);
    // The master still takes writes at once (nothing paused it) and every sentinel still names it.
    expect(await redis(master, (c) => c.set("pf1:key", "1"))).toBe("OK");
    expect(await agreedMaster()).toBe(master);
  });

  scenario("2. measure: kill -9 of the master (a crash) under both applications", 180_000, async () => {
    const master = await waitHealthy("a healthy group");
    const { at, logs } = await whileWriting("pf2", async () => {
      await kill9(master.name, "redis");
      return Date.now();
    });
    const newMaster = await waitUntil(() => agreedMaster(sentinelsBesides(master)), { timeoutMs: SENTINEL_WAIT_MS, what: "the other sentinels to agree on a new master" });
    console.log(`measure: crash (kill -9, down-after-milliseconds ${downAfterMs}): ${describeWrites(logs, at)}`);
    expect(newMaster).not.toBe(master);
    expect(await missingKeys(newMaster, acknowledged)).toEqual([]);
    await restart(master.name, "redis");
    await waitHealthy("the crashed master back as a replica");
  });

  coLocatedOnly("3. measure: a bare SENTINEL FAILOVER (what the step improves on)", 180_000, async () => {
    const master = await waitHealthy("a healthy group");
    // Its acknowledged writes are not kept for the later checks: it loses some (printed).
    const { at, logs } = await whileWriting("pf3", async () => {
      const startedAt = Date.now();
      expect(await sentinel(others(master)[0], "failover", masterName)).toBe("OK");
      return startedAt;
    }, 12_000, false);
    const newMaster = await waitUntil(agreedMaster, { timeoutMs: SENTINEL_WAIT_MS, what: "the sentinels to agree on a new master" });
    await waitHealthy("the old master demoted to a replica");
    const lost = await missingKeys(newMaster, logs.flatMap((l) => l.acknowledged));
    console.log(`measure: bare SENTINEL FAILOVER: ${describeWrites(logs, at)}; acknowledged writes lost: ${lost.length}`);
    expect(newMaster).not.toBe(master);
    expect(await missingKeys(newMaster, acknowledged)).toEqual([]);
  });

  scenario("4. measure: a planned stop of the master hands the role over first; no acknowledged write is lost", 180_000, async () => {
    const master = await waitHealthy("a healthy group");
    let step: RunResult | undefined;
    let lagsBefore = "";
    let viewsBefore: SentinelView[] = [];
    let viewsAfter: SentinelView[] = [];
    let rolesAfter: string[] = [];
    const { at, logs } = await whileWriting("pf4", async () => {
      lagsBefore = await replicaLags(master);
      viewsBefore = await sentinelViews();
      const startedAt = Date.now();
      step = await runStep(master);
      // What the sentinels said when the step had closed the clients' connections.
      viewsAfter = await sentinelViews();
      rolesAfter = await Promise.all(others(master).map(async (n) => {
        const role = (await redis(n, (c) => c.call("ROLE"))) as string[];
        return role[0] === "master" ? `${n.ip} master` : `${n.ip} replica of ${role[1]} ${role[3]}`;
      }));
      // Then systemd stops the main process.
      await stop(master.name, "redis");
      return startedAt;
    });
    const newMaster = await waitUntil(() => agreedMaster(sentinelsBesides(master)), { timeoutMs: SENTINEL_WAIT_MS, what: "the other sentinels to agree on the new master" });
    const stepLines = step!.stderr.trim().split("\n").map((l) => `    ${l}`).join("\n");
    const cameBack = logs.map((l) => `${l.client} ${l.errors.filter((e) => /previous master is now a slave|READONLY|NOREPLICAS/.test(e.message)).length}`).join(", ");
    console.log(
      `measure: planned stop${dedicated ? " (dedicated sentinels, no early end of the failover)" : ""} (the step, then SIGTERM): ${describeWrites(logs, at)}; ` +
        `replicas' lag before: ${lagsBefore} s; sent back to the old master or refused there: ${cameBack}; other replicas when the clients moved: ${rolesAfter.join(", ")}\n  the step said:\n${stepLines}`,
    );
    expect(step!.code).toBe(0);
    // The steps in their order: writes paused, the replicas hold every write, the failover, the new master
    // named, this node its replica, every sentinel naming it (with dedicated sentinels every one but the
    // leader, whose failover nothing may end early), then the clients' connections closed.
    // With dedicated sentinels the step waits (at most 1 s) for all but the leader; once in about ten runs of the
    // rolling restart they had not switched by then (the step says "no", and the clients move anyway).
    const everySentinel = dedicated ? "every sentinel but the leader named it: (yes, \\d+ ms after the pause|no)" : "every sentinel named it: yes, \\d+ ms after the pause";
    expect(step!.stderr).toMatch(new RegExp(
      `writes paused[^]*every promotable replica holds offset \\d+[^]*SENTINEL FAILOVER started[^]*names \\S+ as master[^]*replicates from \\S+ ` +
        `\\(in sync before the clients moved: yes; ${everySentinel};[^]*closed the clients' connections[^]*hand-over done`,
    ));
    const followersNamedIt = !dedicated || /every sentinel but the leader named it: yes/.test(step!.stderr);
    // With dedicated sentinels: through the last of them (clients ask the first ones first).
    if (dedicated) expect(step!.stderr).toMatch(new RegExp(`handing the role over through the sentinel at ${sentinelNodes[sentinelNodes.length - 1].ip.replace(/\./g, "\\.")}:\\d+ \\(as node-handover\\)`));
    expect(newMaster).not.toBe(master);
    expect(await missingKeys(newMaster, acknowledged)).toEqual([]);
    planned = { oldMaster: master, newMaster };
    // No client came back to the old master: redis-py's first reconnect found the new one (with dedicated
    // sentinels its first sentinel is not the leader, whose SENTINEL MASTERS lags), once the other sentinels
    // named the new master before the clients moved.
    if (followersNamedIt) expect(logs.flatMap((l) => l.errors.filter((e) => /previous master is now a slave/.test(e.message)))).toEqual([]);
    // No client was told the old master refuses writes or is read-only: they waited, then moved.
    for (const log of logs) expect({ client: log.client, refusals: log.errors.filter((e) => /NOREPLICAS|READONLY/.test(e.message)) }).toEqual({ client: log.client, refusals: [] });
    if (dedicated) {
      // No sentinel's failover-timeout was touched (node-handover may not SENTINEL SET), and every sentinel names the new master.
      expect(viewsAfter.map((v) => v.failoverTimeout)).toEqual(viewsBefore.map((v) => v.failoverTimeout));
      expect(await agreedMaster()).toBe(newMaster);
      return;
    }
    // Every sentinel named the new master in SENTINEL MASTER (what redis-py asks) before the clients moved,
    // with the failover-timeout it had before the step (the step shortens it to end the failover at once).
    expect(viewsAfter).toEqual(viewsBefore.map((v) => ({ ...v, master: `${newMaster.ip}:${redisPort}` })));
    // And no replica was left behind: the other one replicated from the new master (Sentinel's REPLICAOF
    // had reached it before the step ended the failover).
    expect(rolesAfter.sort()).toEqual(others(master).map((n) => (n === newMaster ? `${n.ip} master` : `${n.ip} replica of ${newMaster.ip} connected`)).sort());
  });

  scenario("5. restarted, the old master is a replica of the new master at once and resumes with a partial resync", 120_000, async () => {
    if (!planned) throw new Error("needs scenario 4's planned stop");
    const { oldMaster, newMaster } = planned;
    const conf = fs.readFileSync(processOf(oldMaster.name, "redis")!.confFile, "utf8");
    expect(conf).toMatch(new RegExp(`^replicaof ${newMaster.ip.replace(/\./g, "\\.")} ${redisPort}$`, "m"));
    const before = await redis(newMaster, (c) => info(c, "stats"));
    await restart(oldMaster.name, "redis");
    // Right after its start, before Sentinel could have reconfigured it.
    expect((await redis(oldMaster, (c) => info(c, "replication"))).role).toBe("slave");
    await waitHealthy("the old master online as a replica");
    const after = await redis(newMaster, (c) => info(c, "stats"));
    expect(Number(after.sync_partial_ok) - Number(before.sync_partial_ok)).toBe(1);
    expect(Number(after.sync_full) - Number(before.sync_full)).toBe(0);
    expect(await missingKeys(oldMaster, acknowledged)).toEqual([]);
  });

  scenario("5b. node-handover: on dedicated sentinels only the hand-over's checks and SENTINEL FAILOVER; no login on the data nodes", 60_000, async () => {
    const master = await waitHealthy("a healthy group");
    const asUser = (user: Login, node: GroupNode, port: number, ...args: string[]) =>
      withClient(node.ip, port, user, (c) => c.call(args[0], ...args.slice(1)), { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls }).then(
        (reply) => `ok: ${JSON.stringify(reply).slice(0, 40)}`,
        (e: Error) => /\b(WRONGPASS|NOPERM|NOAUTH)\b/.exec(e.message)?.[1] ?? e.message,
      );
    const as = (node: GroupNode, port: number, ...args: string[]) => asUser(HANDOVER, node, port, ...args);
    // replication, which the hand-over on a data node of dedicated sentinels asks the replicas' ROLE with:
    // ROLE besides what a replica needs, nothing that reads a key or changes a node.
    const replica = others(master)[0];
    expect(await asUser(REPLICATION, replica, redisPort, "ROLE")).toMatch(/^ok: \["slave"/);
    for (const command of [["GET", "k"], ["KEYS", "*"], ["CONFIG", "GET", "*"], ["REPLICAOF", "NO", "ONE"], ["CLIENT", "KILL", "TYPE", "normal"], ["ACL", "LIST"], ["INFO"]]) {
      expect({ command: command.join(" "), reply: await asUser(REPLICATION, replica, redisPort, ...command) }).toEqual({ command: command.join(" "), reply: "NOPERM" });
    }
    for (const node of dataNodes) expect({ node: node.name, login: await as(node, redisPort, "PING") }).toEqual({ node: node.name, login: "WRONGPASS" });
    if (!dedicated) {
      // Not created where the sentinels run on the data nodes: the hand-over logs in as node-ops there.
      for (const node of sentinelNodes) expect({ node: node.name, login: await as(node, sentinelPort, "PING") }).toEqual({ node: node.name, login: "WRONGPASS" });
      return;
    }
    const sentinelNode = sentinelNodes[0];
    const refused = [
      ["SENTINEL", "SET", masterName, "quorum", "1"],
      ["SENTINEL", "SET", masterName, "failover-timeout", "1"],
      ["SENTINEL", "SET", masterName, "auth-pass", "x"],
      ["SENTINEL", "RESET", "*"],
      ["SENTINEL", "REMOVE", masterName],
      ["SENTINEL", "MONITOR", "other", "10.0.0.1", "6379", "1"],
      ["SENTINEL", "CONFIG", "SET", "sentinel-pass", "x"],
      ["SENTINEL", "CONFIG", "GET", "*"],
      ["SENTINEL", "FLUSHCONFIG"],
      ["SENTINEL", "IS-MASTER-DOWN-BY-ADDR", master.ip, String(redisPort), "0", "*"],
      ["SENTINEL", "DEBUG"],
      ["ACL", "LIST"],
      ["ACL", "SETUSER", "node-handover", "+@all"],
      ["PUBLISH", "__sentinel__:hello", "x"],
      ["CLIENT", "KILL", "TYPE", "normal"],
      ["SHUTDOWN"],
    ];
    for (const command of refused) expect({ command: command.join(" "), reply: await as(sentinelNode, sentinelPort, ...command) }).toEqual({ command: command.join(" "), reply: "NOPERM" });
    // A sentinel has no CONFIG command (its settings go through SENTINEL SET / SENTINEL CONFIG, refused above).
    expect(await as(sentinelNode, sentinelPort, "CONFIG", "GET", "*")).toMatch(/^ERR unknown command 'CONFIG'/);
    // What it may: the master's state and quorum, INFO (TILT) - so the refusals above were not a failed login.
    const allowed = [["SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName], ["SENTINEL", "MASTER", masterName], ["SENTINEL", "CKQUORUM", masterName], ["INFO", "sentinel"]];
    for (const command of allowed) expect({ command: command.join(" "), reply: await as(sentinelNode, sentinelPort, ...command) }).toEqual({ command: command.join(" "), reply: expect.stringMatching(/^ok: /) });
    // Nothing changed: the same master, quorum and failover-timeout everywhere.
    const views = await Promise.all(sentinelNodes.map(sentinelMaster));
    expect(new Set(views.map((m) => `${m.ip} ${m.quorum} ${m["failover-timeout"]}`)).size).toBe(1);
    expect(await agreedMaster()).toBe(master);
  });

  coLocatedOnly("6. measure: stalled replicas (SIGSTOP); one of two stalled past min-replicas-max-lag never blocks writes", 120_000, async () => {
    const master = await waitHealthy("a healthy group");
    const conf = fs.readFileSync(processOf(master.name, "redis")!.confFile, "utf8");
    const maxLag = Number(/^min-replicas-max-lag (\d+)$/m.exec(conf)![1]);
    const replicas = others(master);
    const writer = await connect(master.ip, redisPort, APP, { commandTimeoutMs: 2000, tls });
    /** Writes every 20 ms while `stalled` replicas are stopped for `ms`; returns the refusals. */
    const stallFor = async (stalled: GroupNode[], ms: number) => {
      const refusals: string[] = [];
      const pids = stalled.map((n) => processOf(n.name, "redis")!.pid);
      const until = Date.now() + ms;
      try {
        for (const pid of pids) process.kill(pid, "SIGSTOP");
        for (let i = 0; i < 10_000 && Date.now() < until; i++) {
          await writer.set(`pf6:k${i}`, String(i)).catch((e: Error) => refusals.push(e.message.split(" ")[0]));
          await sleep(20);
        }
      } finally {
        for (const pid of pids) process.kill(pid, "SIGCONT");
      }
      return refusals;
    };
    try {
      const one = await stallFor([replicas[0]], (maxLag + 3) * 1000);
      await waitHealthy("the stalled replica back");
      const both = await stallFor(replicas, 1500);
      await waitHealthy("the stalled replicas back");
      // Later scenarios need replicas that acknowledge again (INFO's lag: seconds since the last ack).
      const resumedAt = Date.now();
      const lags = async () => {
        const repl = await redis(master, (c) => info(c, "replication"));
        return Object.entries(repl).filter(([k]) => /^slave\d+$/.test(k)).map(([, v]) => Number(/lag=(\d+)/.exec(v)?.[1] ?? -1));
      };
      await waitUntil(async () => (await lags()).every((lag) => lag >= 0 && lag <= 1), { timeoutMs: 60_000, intervalMs: 250, what: "both replicas to acknowledge again" });
      console.log(
        `measure: stalled replicas (min-replicas-max-lag ${maxLag} s): one replica stopped ${maxLag + 3} s: ${one.length} writes refused; ` +
          `both stopped 1.5 s: ${both.length} refused; both acknowledging again (lag <= 1 s) ${Date.now() - resumedAt} ms after the group was healthy`,
      );
      expect(one).toEqual([]);
    } finally {
      writer.disconnect();
    }
  });

  coLocatedOnly("7. measure: a master cut off from the other nodes refuses writes (NOREPLICAS) after min-replicas-max-lag", 180_000, async () => {
    const master = await waitHealthy("a healthy group");
    const conf = fs.readFileSync(processOf(master.name, "redis")!.confFile, "utf8");
    const maxLag = Number(/^min-replicas-max-lag (\d+)$/m.exec(conf)![1]);
    const rest = others(master);
    const partition = (op: "-I" | "-D") =>
      Promise.all(rest.flatMap((o) => [
        topology!.exec(master.name, ["iptables", op, "INPUT", "-s", o.ip, "-j", "DROP"]),
        topology!.exec(master.name, ["iptables", op, "OUTPUT", "-d", o.ip, "-j", "DROP"]),
      ]));
    const writer = await connect(master.ip, redisPort, APP, { commandTimeoutMs: 2000, tls });
    let partitionedAt = 0;
    let refusedAt = 0;
    let refusal = "";
    let accepted = 0;
    let newMasterAt = 0;
    const lagsBefore = await replicaLags(master);
    try {
      await partition("-I");
      partitionedAt = Date.now();
      for (let i = 0; i < 5000 && !refusedAt && Date.now() - partitionedAt < 60_000; i++) {
        try {
          await writer.set(`pf7:k${i}`, String(i));
          accepted++;
        } catch (e) {
          refusal = (e as Error).message;
          refusedAt = Date.now();
        }
        await sleep(20);
      }
      const newMaster = await waitUntil(
        async () => {
          const named = await agreedMaster(rest);
          if (named === master) return undefined;
          await redis(named, (c) => c.set("pf7:after", "1"));
          return named;
        },
        { timeoutMs: SENTINEL_WAIT_MS, intervalMs: 100, what: "the majority side to promote a writable master" },
      );
      newMasterAt = Date.now();
      expect(newMaster).not.toBe(master);
    } finally {
      writer.disconnect();
      await partition("-D");
    }
    console.log(
      `measure: partition (min-replicas-max-lag ${maxLag} s, down-after-milliseconds ${downAfterMs}): the cut-off master accepted ${accepted} writes ` +
        `for ${refusedAt - partitionedAt} ms, then "${refusal.split(" ")[0]}"; the majority side had a writable master by ${newMasterAt - partitionedAt} ms at the latest ` +
        `(replicas' lag before: ${lagsBefore} s)`,
    );
    expect(refusal).toMatch(/^NOREPLICAS/);
    for (const node of nodes) if (!isRunning(node.name, "redis")) await restart(node.name, "redis");
    await waitHealthy("the healed old master back as a replica");
  });
}
