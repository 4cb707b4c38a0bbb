/**
 * Safe boot roles on real redis-server and redis-sentinel, one network
 * namespace per node, with the synthesized configs: a node is replaced (its
 * processes killed, its configs as its first boot renders them, its data
 * directory emptied or kept), and before redis-server starts again the
 * boot library's redis-role step runs as the node's drop-in names it
 * (redis-server's ExecStartPre), asking the other sentinels over TLS. Needs
 * root; the scenarios run in order and share one group. The same for a group
 * with dedicated sentinel nodes, whose data nodes ask them as sentinel-client.
 */
import * as fs from "fs";
import * as path from "path";
import Redis from "ioredis";
import { ConnectionOptions } from "tls";
import { SentinelOptions } from "../../lib";
import { BUILTIN_USERS } from "../../lib/boot";
import { connect, info, Login, withClient } from "./harness/client";
import { Topology } from "./harness/netns";
import { allLogs, kill9, processOf, restart, stop, stopAll, waitUntil } from "./harness/processes";
import {
  decideRole,
  generatedPassword,
  GroupLayout,
  GroupNode,
  layOutGroup,
  nodeAtAddress,
  provideTestSecrets,
  renderedConfigsOf,
  RoleDecision,
  startGroup,
  testPasswords,
} from "./synthesized-group";
import { synthesizeBasicExample } from "./synthesized-nodes";
import { describeIntegration, ScenarioRun } from "./harness/suite";

const PASSWORDS = testPasswords();
const login = (username: string): Login => ({ username, password: PASSWORDS[username] });
const APP = login("app");
const ADMIN = login("admin");
const SENTINEL_CLIENT = login(BUILTIN_USERS.sentinelClient);
const SUITE = "Safe boot roles: a replaced node asks the sentinels before redis-server starts";
const COMMANDS = ["redis-server", "redis-sentinel", "ip", "iptables"];

describeIntegration(SUITE, COMMANDS, () => scenarios({}));
describeIntegration(`${SUITE} (dedicated sentinel nodes: the data nodes ask them as sentinel-client)`, COMMANDS, () => scenarios({ dedicatedNodeCount: 3 }));

function scenarios(sentinelOptions: SentinelOptions): void {
  const dedicated = (sentinelOptions.dedicatedNodeCount ?? 0) > 0;
  let topology: Topology | undefined;
  let layout: GroupLayout | undefined;
  let workRoot: string | undefined;
  let nodes: GroupNode[] = [];
  // Data nodes, and the nodes that run a sentinel: the same nodes unless the sentinels are dedicated ones.
  let dataNodes: GroupNode[] = [];
  let sentinelNodes: GroupNode[] = [];
  let masterName = "";
  let redisPort = 0;
  let sentinelPort = 0;
  let tls: ConnectionOptions | undefined;
  let initialMaster: GroupNode | undefined;
  // Scenarios in order; the teardown keeps the logs when one did not finish.
  const progress = new ScenarioRun();
  const { tracked, scenario } = progress;

  const nodeAt = (ip: string) => nodeAtAddress(nodes, ip);
  const redis = <T>(node: GroupNode, fn: (c: Redis) => Promise<T>) => withClient(node.ip, redisPort, ADMIN, fn, { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });
  const replication = (node: GroupNode) => redis(node, (c) => info(c, "replication"));
  const sentinel = (node: GroupNode, ...args: string[]) =>
    withClient(node.ip, sentinelPort, SENTINEL_CLIENT, (c) => c.call("SENTINEL", ...args), { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });
  const onlineReplicas = (repl: Record<string, string>) =>
    Object.entries(repl).filter(([k, v]) => /^slave\d+$/.test(k) && v.includes("state=online")).map(([, v]) => /ip=([^,]+)/.exec(v)![1]);

  /** The master every sentinel names (throws while they disagree, for waitUntil). */
  async function agreedMaster(): Promise<GroupNode> {
    const named = await Promise.all(sentinelNodes.map(async (n) => ((await sentinel(n, "get-master-addr-by-name", masterName)) as string[])[0]));
    if (new Set(named).size !== 1) throw new Error(`sentinels disagree: ${named.join(", ")}`);
    return nodeAt(named[0]);
  }

  /** Master with every other node online as its replica, as every sentinel sees it. */
  async function healthyMaster(): Promise<GroupNode> {
    const master = await agreedMaster();
    const online = onlineReplicas(await replication(master));
    if (online.length !== dataNodes.length - 1) throw new Error(`master ${master.ip} has online replicas [${online.join(", ")}]`);
    for (const n of sentinelNodes) {
      const flat = (await sentinel(n, "master", masterName)) as string[];
      const state = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
      if (state["num-slaves"] !== String(dataNodes.length - 1) || state["num-other-sentinels"] !== String(sentinelNodes.length - 1)) {
        throw new Error(`sentinel on ${n.ip}: num-slaves ${state["num-slaves"]}, num-other-sentinels ${state["num-other-sentinels"]}`);
      }
    }
    return master;
  }

  /** Writes `count` keys to the master, each acknowledged by a replica (WAIT 1); returns the acknowledged ones. */
  async function acknowledgedWrites(master: GroupNode, prefix: string, count: number): Promise<string[]> {
    const writer = await connect(master.ip, redisPort, APP, { commandTimeoutMs: 2000, tls });
    const acknowledged: string[] = [];
    try {
      for (let i = 0; i < count; i++) {
        await writer.set(`${prefix}:k${i}`, String(i));
        if ((await writer.wait(1, 1000)) >= 1) acknowledged.push(`${prefix}:k${i}`);
      }
    } finally {
      writer.disconnect();
    }
    return acknowledged;
  }

  /** Keys of `keys` that `node` does not hold with their value (value = the key's number). */
  async function missingKeys(node: GroupNode, keys: string[]): Promise<string[]> {
    const lost: string[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await redis(node, (c) => c.mget(...chunk));
      chunk.forEach((key, j) => values[j] !== key.replace(/^.*:k/, "") && lost.push(key));
    }
    return lost;
  }

  /** What a node's redis log gained since `offset` bytes. */
  const redisLogSince = (node: GroupNode, offset: number) => fs.readFileSync(processOf(node.name, "redis")!.logFile).subarray(offset).toString();
  const redisLogSize = (node: GroupNode) => fs.statSync(processOf(node.name, "redis")!.logFile).size;

  /**
   * The node as a new instance finds it: redis.conf and sentinel.conf as its
   * first boot renders them; the data directory emptied unless kept.
   */
  function freshInstance(node: GroupNode, keepData: boolean): void {
    const rendered = renderedConfigsOf(layout!, node);
    fs.copyFileSync(rendered.redis, path.join(node.dir, "redis.conf"));
    if (node.runsSentinel) fs.copyFileSync(rendered.sentinel, path.join(node.dir, "sentinel.conf"));
    if (keepData) return;
    for (const file of fs.readdirSync(node.dir)) {
      if (/^(dump\.rdb|temp-.*\.rdb|appendonly)/.test(file)) fs.rmSync(path.join(node.dir, file), { recursive: true, force: true });
    }
  }

  /** Replica `node` of `master`, link up (throws otherwise, for waitUntil). */
  async function replicatingFrom(node: GroupNode, master: GroupNode): Promise<true> {
    const r = await replication(node);
    if (r.role === "slave" && r.master_host === master.ip && r.master_link_status === "up") return true;
    throw new Error(`role:${r.role} master_host:${r.master_host} master_link_status:${r.master_link_status}`);
  }

  beforeAll(tracked(async () => {
    layout = await layOutGroup(synthesizeBasicExample({ sentinel: sentinelOptions }));
    topology = layout.topology;
    workRoot = layout.workRoot;
    nodes = layout.nodes;
    dataNodes = nodes.filter((n) => n.runsRedis);
    sentinelNodes = nodes.filter((n) => n.runsSentinel);
    expect([dataNodes.length, sentinelNodes.length, nodes.length]).toEqual(dedicated ? [3, 3, 6] : [3, 3, 3]);
    const group = await startGroup(layout, provideTestSecrets(PASSWORDS));
    ({ masterName, redisPort, sentinelPort, tls, initialMaster } = group);
    const master = await waitUntil(healthyMaster, { timeoutMs: 30_000, intervalMs: 250, what: "a master with 2 online replicas, seen by 3 sentinels" });
    expect(master).toBe(group.initialMaster);
  }), 90_000);

  afterAll(async () => {
    try {
      if (progress.failed) console.error(`logs of the failed integration run (kept in ${workRoot}):\n${allLogs(60)}`);
    } finally {
      try {
        await stopAll();
      } finally {
        await topology?.destroy();
      }
    }
    if (!progress.failed && workRoot) fs.rmSync(workRoot, { recursive: true, force: true });
  }, 60_000);

  scenario("1. the master replaced by an empty node at the same address comes back as a replica: no acknowledged write lost, no replica flushes", 300_000, async () => {
    const master = await waitUntil(healthyMaster, { timeoutMs: 30_000, what: "a healthy master" });
    const others = dataNodes.filter((n) => n !== master);
    const acknowledged = await acknowledgedWrites(master, "r1", 300);
    expect(acknowledged.length).toBe(300);
    const logOffsets = new Map(others.map((n) => [n.name, redisLogSize(n)]));
    const replacedLog = redisLogSize(master);

    // The instance goes away with both processes; the new one has an empty data directory.
    await kill9(master.name);
    freshInstance(master, false);
    // Its boot asks at once, long before the sentinels' failure detection
    // ends: they still name this address as master, with two replicas.
    // Sentinels that all see the master down at once can split their vote
    // (each votes for itself) and try again only after 2 x failover-timeout:
    // the empty node then refuses to start, and systemd starts it again
    // later, which runs the decision again. So do we, a bounded number of times.
    const first = await decideRole(layout!, master);
    let decision = first;
    for (let attempt = 2; attempt <= 4 && decision.code !== 0 && /the sentinels still name this empty node as master/.test(decision.log); attempt++) {
      console.log(`role decision of the replaced master ${master.ip} refused to start (the sentinels have not failed over yet), as systemd would start it again:\n${decision.log}`);
      decision = await decideRole(layout!, master);
    }
    console.log(`role decision of the replaced master ${master.ip}:\n${decision.log}`);
    expect(decision.code).toBe(0);
    expect(first.log).toMatch(/role: the sentinels name this node as master, but it is empty and they know 2 replica\(s\) that may hold data: waiting/);
    const named = /role: starting as replica of (\S+):(\d+): the sentinels name/.exec(decision.log);
    expect(named).not.toBeNull();
    const newMaster = nodeAt(named![1]);
    expect(newMaster).not.toBe(master);
    expect(fs.readFileSync(path.join(master.dir, "redis.conf"), "utf8").split("\n").filter((l) => /^(replicaof|slaveof) /.test(l))).toEqual([`replicaof ${newMaster.ip} ${redisPort}`]);

    if (dedicated) expect(decision.log).toMatch(/role: asking the sentinels \(\S+ \S+ \S+, not this node's\)/);
    await restart(master.name, "redis");
    // From its first moment a replica: it never ran as a master, not even empty.
    expect((await replication(master)).role).toBe("slave");
    expect(redisLogSince(master, replacedLog)).not.toMatch(/MASTER MODE enabled/);
    if (master.runsSentinel) await restart(master.name, "sentinel");
    await waitUntil(() => replicatingFrom(master, newMaster), { timeoutMs: 60_000, intervalMs: 250, what: `${master.ip} to replicate from ${newMaster.ip}` });
    // Every sentinel, the replaced node's fresh one too, names the promoted replica.
    expect(await waitUntil(healthyMaster, { timeoutMs: 60_000, intervalMs: 250, what: "the group healthy again" })).toBe(newMaster);

    expect(await missingKeys(newMaster, acknowledged)).toEqual([]);
    expect(await missingKeys(master, acknowledged)).toEqual([]);
    for (const other of others) {
      const log = redisLogSince(other, logOffsets.get(other.name)!);
      // A replica that follows an empty master logs this before it drops its dataset.
      expect({ node: other.name, flushed: log.match(/.*Flushing old data.*/g) ?? [] }).toEqual({ node: other.name, flushed: [] });
      expect({ node: other.name, fromReplaced: log.match(new RegExp(`.*MASTER <-> REPLICA sync: Finished with success.*`, "g")) ?? [] }).toEqual({ node: other.name, fromReplaced: [] });
    }
    const remaining = others.find((n) => n !== newMaster)!;
    expect(redisLogSince(remaining, logOffsets.get(remaining.name)!)).toMatch(/Successful partial resynchronization with master/);
  });

  scenario("2. a replica replaced with its data directory kept resumes with a partial resync from the current master", 120_000, async () => {
    const master = await waitUntil(healthyMaster, { timeoutMs: 30_000, what: "a healthy master" });
    // The node created as master, a replica since scenario 1: its fresh redis.conf has no replicaof at all.
    const replica = initialMaster !== master && initialMaster ? initialMaster : dataNodes.find((n) => n !== master)!;
    const syncStats = async () => {
      const stats = await redis(master, (c) => info(c, "stats"));
      return { full: Number(stats.sync_full), partial: Number(stats.sync_partial_ok) };
    };
    const before = await syncStats();
    const acknowledged = await acknowledgedWrites(master, "r2a", 100);
    // Terraform stops the old instance before it moves the volume: Redis saves its snapshot.
    await stop(replica.name);
    const whileAway = await acknowledgedWrites(master, "r2b", 100);
    freshInstance(replica, true);
    const decision = await decideRole(layout!, replica);
    console.log(`role decision of the replaced replica ${replica.ip}:\n${decision.log}`);
    expect(decision.code).toBe(0);
    expect(decision.log).toContain(`role: starting as replica of ${master.ip}:${redisPort}: the sentinels name ${master.ip}:${redisPort} as master`);
    await restart(replica.name, "redis");
    if (replica.runsSentinel) await restart(replica.name, "sentinel");
    await waitUntil(() => replicatingFrom(replica, master), { timeoutMs: 30_000, intervalMs: 200, what: `${replica.ip} to replicate from ${master.ip}` });
    expect(await missingKeys(replica, [...acknowledged, ...whileAway])).toEqual([]);
    const after = await syncStats();
    console.log(`replaced replica ${replica.ip}: master sync_partial_ok ${before.partial} -> ${after.partial}, sync_full ${before.full} -> ${after.full}`);
    expect(after.partial - before.partial).toBe(1);
    expect(after.full - before.full).toBe(0);
    expect(await waitUntil(healthyMaster, { timeoutMs: 60_000, intervalMs: 250, what: "the group healthy again" })).toBe(master);
  });

  if (dedicated) {
    scenario("3. a data node whose sentinels refuse its login (a wrong sentinel-client password): each refusal is a line of its log, and it follows its redis.conf after ROLE_ASK_SECONDS", 120_000, async () => {
      const master = await waitUntil(healthyMaster, { timeoutMs: 30_000, what: "a healthy master" });
      const replica = dataNodes.find((n) => n !== master)!;
      // What the boot fetched: the decision's prepare step keeps it for every later start.
      const fetched = path.join(replica.secretsDir, `${BUILTIN_USERS.sentinelClient}.password`);
      const right = fs.readFileSync(fetched, "utf8");
      await stop(replica.name);
      fs.writeFileSync(fetched, generatedPassword());
      let refused: RoleDecision;
      try {
        refused = await decideRole(layout!, replica);
      } finally {
        fs.writeFileSync(fetched, right);
      }
      console.log(`role decision of ${replica.ip} with a wrong sentinel-client password:\n${refused.log}`);
      expect(refused.code).toBe(0);
      for (const s of sentinelNodes) expect(refused.log).toContain(`role: the sentinel at ${s.ip}:${sentinelPort} refuses: AUTH failed: WRONGPASS`);
      expect(refused.log).toMatch(
        new RegExp(`role: starting as replica of ${master.ip.replace(/\./g, "\\.")}:${redisPort}: no sentinel answered in \\d+s \\(3 refused user sentinel-client, see above\\): as redis\\.conf says`),
      );
      const again = await decideRole(layout!, replica);
      expect(again.log).toContain(`role: starting as replica of ${master.ip}:${redisPort}: the sentinels name ${master.ip}:${redisPort} as master`);
      await restart(replica.name, "redis");
      expect(await waitUntil(healthyMaster, { timeoutMs: 60_000, intervalMs: 250, what: "the group healthy again" })).toBe(master);
    });
    return;
  }

  scenario("3. every node restarted at once (no sentinel answers): each waits a bounded time, then follows its redis.conf; the same master, no acknowledged write lost", 150_000, async () => {
    const master = await waitUntil(healthyMaster, { timeoutMs: 30_000, what: "a healthy master" });
    const acknowledged = await acknowledgedWrites(master, "r3", 100);
    // SIGTERM, as a shutdown does: every Redis saves its snapshot.
    await Promise.all(nodes.map((n) => stop(n.name)));
    const decisions = await Promise.all(nodes.map((n) => decideRole(layout!, n)));
    nodes.forEach((n, i) => console.log(`role decision of ${n.ip} after a restart of the whole group:\n${decisions[i].log}`));
    nodes.forEach((n, i) => {
      const expected = n === master ? "starting as master: no sentinel answered in" : `starting as replica of ${master.ip}:${redisPort}: no sentinel answered in`;
      expect({ node: n.name, code: decisions[i].code, decided: decisions[i].log.includes(expected) }).toEqual({ node: n.name, code: 0, decided: true });
    });
    for (const n of nodes) await restart(n.name, "redis");
    for (const n of nodes) await restart(n.name, "sentinel");
    expect(await waitUntil(healthyMaster, { timeoutMs: 60_000, intervalMs: 250, what: "the group healthy again" })).toBe(master);
    for (const n of nodes) expect({ node: n.name, missing: await missingKeys(n, acknowledged) }).toEqual({ node: n.name, missing: [] });
  });

  scenario("4. a new group's first boot, every node at once (decide, start redis-server, then its sentinel): the planned roles, the planned master only once the replicas' sentinels answer", 150_000, async () => {
    if (!initialMaster) throw new Error("no initial master");
    const planned = initialMaster;
    // Every node as a new instance of a new group: empty, its configs as rendered.
    await Promise.all(nodes.map((n) => kill9(n.name)));
    for (const n of nodes) freshInstance(n, false);
    // Each node's boot in the order a node runs it, the nodes side by side.
    const decisions = await Promise.all(
      nodes.map(async (n) => {
        const decision = await decideRole(layout!, n);
        if (decision.code === 0) {
          await restart(n.name, "redis");
          await restart(n.name, "sentinel");
        }
        return decision;
      }),
    );
    nodes.forEach((n, i) => console.log(`role decision of ${n.ip} at the group's first boot:\n${decisions[i].log}`));
    nodes.forEach((n, i) => {
      const expected = n === planned ? /role: starting as master: / : new RegExp(`role: starting as replica of ${planned.ip.replace(/\./g, "\\.")}:${redisPort}: `);
      expect({ node: n.name, code: decisions[i].code, decided: expected.test(decisions[i].log) }).toEqual({ node: n.name, code: 0, decided: true });
    });
    expect(await waitUntil(healthyMaster, { timeoutMs: 60_000, intervalMs: 250, what: "the new group healthy" })).toBe(planned);
    const acknowledged = await acknowledgedWrites(planned, "r4", 50);
    expect(acknowledged.length).toBe(50);
  });
}
