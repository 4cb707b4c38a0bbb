/**
 * Runs the redis.conf and sentinel.conf that examples/basic synthesizes on
 * real redis-server / redis-sentinel processes, one network namespace per
 * node, with iptables mirroring the security group (see DESIGN.md, "Testing
 * against the real thing"). Needs root; the scenarios run in order and share
 * one topology.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import Redis from "ioredis";
import { ConnectionOptions } from "tls";
import { createServer } from "http";
import { AddressInfo } from "net";
import { BUILTIN_USERS, SENTINEL_EVENT_SOURCE } from "../../lib/boot";
import { FakeAws } from "../support/fake-aws";
import { connect, info, Login, withClient } from "./harness/client";
import { OUTSIDE, ROOT, Topology, probeTcp, run, sleep } from "./harness/netns";
import { allLogs, isRunning, kill9, processOf, restart, stop, stopAll, waitUntil } from "./harness/processes";
import { GroupLayout, GroupNode, layOutGroup, NodeEvents, redisHelpersOf, startGroup, provideTestSecrets, testPasswords, nodeAtAddress } from "./synthesized-group";
import { synthesizeBasicExample } from "./synthesized-nodes";
import { describeIntegration, ScenarioRun } from "./harness/suite";

// Every user of the example has its own password, as the secret store gives them.
// Generated passwords are letters and digits; the app user's is one of the
// user's own: a space, a double quote, a backslash, '#' and '&' prove the
// boot script's escaping and hashing.
const PASSWORDS = testPasswords(`it pw "q" \\ #h &a ${randomBytes(4).toString("hex")}`);
const login = (username: string): Login => ({ username, password: PASSWORDS[username] });
const APP = login("app");
const ADMIN = login("admin");
const SENTINEL_CLIENT = login(BUILTIN_USERS.sentinelClient);
const SUITE = "Redis replication and Sentinel failover with the synthesized configuration";

type Node = GroupNode;

describeIntegration(SUITE, ["redis-server", "redis-sentinel", "ip", "iptables"], scenarios);

function scenarios(): void {
  let topology: Topology | undefined;
  let layout: GroupLayout | undefined;
  let workRoot: string | undefined;
  let nodes: Node[] = [];
  let masterName = "";
  let downAfterMs = 0;
  let redisPort = 0;
  let sentinelPort = 0;
  // What every client of the group gets: its CA (made here with openssl; Terraform makes the real one).
  let tls: ConnectionOptions | undefined;
  // Scenarios in order; the teardown keeps the logs when one did not finish.
  const progress = new ScenarioRun();
  const { tracked, scenario } = progress;
  // Keys whose WAIT was acknowledged by a replica in the first failover; later scenarios check them too.
  const acknowledged: string[] = [];
  let firstFailover: { oldMaster: Node; newMaster: Node } | undefined;
  let events: ReadonlyMap<string, NodeEvents> = new Map();

  const nodeAt = (ip: string) => nodeAtAddress(nodes, ip);
  const redis = <T>(node: Node, fn: (c: Redis) => Promise<T>) => withClient(node.ip, redisPort, ADMIN, fn, { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });
  const replication = (node: Node) => redis(node, (c) => info(c, "replication"));
  const sentinel = (node: Node, ...args: string[]) =>
    withClient(node.ip, sentinelPort, args[0] === "failover" ? ADMIN : SENTINEL_CLIENT, (c) => c.call("SENTINEL", ...args), {
      connectTimeoutMs: 1000,
      commandTimeoutMs: 2000,
      tls,
    });
  const onlineReplicas = (repl: Record<string, string>) =>
    Object.entries(repl).filter(([k, v]) => /^slave\d+$/.test(k) && v.includes("state=online")).map(([, v]) => /ip=([^,]+)/.exec(v)![1]);

  /** The master every sentinel names (throws while they disagree, for waitUntil). */
  async function agreedMaster(): Promise<Node> {
    const named = await Promise.all(nodes.map(async (n) => ((await sentinel(n, "get-master-addr-by-name", masterName)) as string[])[0]));
    if (new Set(named).size !== 1) throw new Error(`sentinels disagree: ${named.join(", ")}`);
    return nodeAt(named[0]);
  }

  /** Master with both other nodes online as replicas, as every sentinel sees it. */
  async function healthyMaster(): Promise<Node> {
    const master = await agreedMaster();
    const online = onlineReplicas(await replication(master));
    if (online.length !== nodes.length - 1) throw new Error(`master ${master.ip} has online replicas [${online.join(", ")}]`);
    for (const n of nodes) {
      const flat = (await sentinel(n, "master", masterName)) as string[];
      const state = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
      if (state["num-slaves"] !== String(nodes.length - 1) || state["num-other-sentinels"] !== String(nodes.length - 1)) {
        throw new Error(`sentinel on ${n.ip}: num-slaves ${state["num-slaves"]}, num-other-sentinels ${state["num-other-sentinels"]}`);
      }
    }
    return master;
  }

  /** Keys of `keys` that `node` does not hold with their value (value = the key's number). */
  async function missingKeys(node: Node, keys: string[]): Promise<string[]> {
    const lost: string[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await redis(node, (c) => c.mget(...chunk));
      chunk.forEach((key, j) => values[j] !== key.replace(/^.*:k/, "") && lost.push(key));
    }
    return lost;
  }

  beforeAll(tracked(async () => {
    layout = await layOutGroup(synthesizeBasicExample());
    topology = layout.topology;
    workRoot = layout.workRoot;
    nodes = layout.nodes;
    // Put the secrets in exactly as the boot does on a node: each node's
    // secrets.list says which users' passwords, and which only hashes, it reads.
    const group = await startGroup(layout, provideTestSecrets(PASSWORDS));
    ({ masterName, redisPort, sentinelPort, downAfterMs, tls, events } = group);
    // Includes the replicas' first (diskless, delayed 5 s) full sync and the sentinels' discovery.
    const master = await waitUntil(healthyMaster, { timeoutMs: 30_000, intervalMs: 250, what: "a master with 2 online replicas, seen by 3 sentinels" });
    expect(master).toBe(group.initialMaster);
  }), 60_000);

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
    // A failed run keeps its configs and logs for a post-mortem.
    if (!progress.failed && workRoot) fs.rmSync(workRoot, { recursive: true, force: true });
  }, 60_000);

  scenario("1. replication with auth: replicas serve the master's writes and refuse their own; no or a wrong password is refused", 30_000, async () => {
    const master = await agreedMaster();
    const replicas = nodes.filter((n) => n !== master);
    await redis(master, (c) => c.set("s1:key", "from-master"));
    let replicated = 0;
    for (const replica of replicas) {
      await waitUntil(async () => (await redis(replica, (c) => c.get("s1:key"))) === "from-master", { timeoutMs: 10_000, what: `s1:key on ${replica.ip}` });
      replicated++;
    }
    expect(replicated).toBe(2);
    const replicaWrites = await Promise.all(replicas.map((r) => redis(r, (c) => c.set("s1:replica", "x")).then(() => "accepted", (e: Error) => e.message)));
    expect(replicaWrites.map((m) => m.split(" ")[0])).toEqual(["READONLY", "READONLY"]);

    // Every node, both ports: no password -> NOAUTH, a wrong one -> WRONGPASS.
    const refusals: string[] = [];
    for (const node of nodes) {
      refusals.push(`${node.name}:redis ${await unauthenticated(node.ip, redisPort, ["GET", "s1:key"], tls)}`);
      refusals.push(`${node.name}:sentinel ${await unauthenticated(node.ip, sentinelPort, ["SENTINEL", "get-master-addr-by-name", masterName], tls)}`);
    }
    expect(refusals).toEqual(nodes.flatMap((n) => [`${n.name}:redis NOAUTH WRONGPASS`, `${n.name}:sentinel NOAUTH WRONGPASS`]));
  });

  scenario("1b. an application's credentials cannot steer Sentinel, read secrets, change config or reach another host", 30_000, async () => {
    const master = await agreedMaster();
    const refused: string[] = [];
    const outcome = (p: Promise<unknown>) => p.then(() => "accepted", (e: Error) => e.message.split(" ")[0]);
    for (const node of nodes) {
      await withClient(node.ip, redisPort, APP, async (c) => {
        for (const command of [["CONFIG", "GET", "masterauth"], ["CONFIG", "SET", "requirepass", "x"], ["ACL", "SETUSER", "backdoor", "on", ">x", "+@all"], ["REPLICAOF", topology!.clientAddress, "6379"], ["MIGRATE", topology!.clientAddress, "6379", "k", "0", "500", "COPY"], ["EVAL", "return 1", "0"], ["FLUSHALL"]]) {
          refused.push(`${node.name} ${command[0]} ${await outcome(c.call(command[0], ...command.slice(1)))}`);
        }
      }, { tls });
      await withClient(node.ip, sentinelPort, SENTINEL_CLIENT, async (c) => {
        for (const command of [["SENTINEL", "REMOVE", masterName], ["SENTINEL", "MONITOR", masterName, topology!.clientAddress, "6379", "1"], ["SENTINEL", "SET", masterName, "quorum", "1"], ["SENTINEL", "FAILOVER", masterName], ["PUBLISH", "__sentinel__:hello", "x"]]) {
          refused.push(`${node.name} ${command.slice(0, 2).join(" ")} ${await outcome(c.call(command[0], ...command.slice(1)))}`);
        }
      }, { tls });
      // The application's password opens no other user.
      for (const user of ["admin", "replication", "sentinel", BUILTIN_USERS.sentinelPeer]) {
        const port = user === BUILTIN_USERS.sentinelPeer ? sentinelPort : redisPort;
        refused.push(`${node.name} AUTH ${user} ${await outcome(connect(node.ip, port, { username: user, password: APP.password }, { tls }).then((c) => c.disconnect()))}`);
      }
    }
    expect(refused.filter((r) => !/ (NOPERM|cannot)$/.test(r))).toEqual([]);
    expect(refused).toHaveLength(nodes.length * 16);
    expect(await agreedMaster()).toBe(master);
  });

  scenario("1c. TLS only: a plaintext client gets no reply, a TLS client without the group's CA cannot verify any node", 30_000, async () => {
    const results: string[] = [];
    for (const node of nodes) {
      for (const [kind, port] of [["redis", redisPort], ["sentinel", sentinelPort]] as const) {
        const plaintext = await unauthenticated(node.ip, port, ["PING"], undefined);
        const withoutCa = await unauthenticated(node.ip, port, ["PING"], {});
        results.push(`${node.name}:${kind} plaintext ${/NOAUTH|WRONGPASS|accepted/.test(plaintext) ? `answered (${plaintext})` : "no reply"}`);
        results.push(`${node.name}:${kind} without CA ${/certificate/.test(withoutCa) ? "unverified" : withoutCa}`);
      }
    }
    expect(results).toEqual(
      nodes.flatMap((n) => ["redis", "sentinel"].flatMap((kind) => [`${n.name}:${kind} plaintext no reply`, `${n.name}:${kind} without CA unverified`])),
    );
  });

  scenario("1d. the boot's PING check over TLS passes on every node: 127.0.0.1, with a certificate that names only the node's address", 60_000, async () => {
    const answers: string[] = [];
    for (const node of nodes) {
      for (const [port, user] of [[redisPort, BUILTIN_USERS.replication], [sentinelPort, BUILTIN_USERS.sentinelPeer]] as const) {
        const check = await topology!.exec(node.name, ["bash", "-c", 'source "$1" && wait_for_pong "$2" "$3"', "_", redisHelpersOf(layout!, node), String(port), user], {
          env: { TLS_DIR: path.join(node.dir, "tls"), REDISCLI_AUTH: PASSWORDS[user] },
          timeoutMs: 40_000,
          allowFailure: true,
        });
        answers.push(`${node.name}:${port} ${/answers PING/.test(check.stderr) ? "PONG" : check.stderr.trim()}`);
      }
    }
    expect(answers).toEqual(nodes.flatMap((n) => [`${n.name}:${redisPort} PONG`, `${n.name}:${sentinelPort} PONG`]));
  });

  scenario("2. kill -9 of the master: sentinels promote a replica, no write acknowledged by WAIT is lost", 120_000, async () => {
    const oldMaster = await agreedMaster();
    const writer = await connect(oldMaster.ip, redisPort, APP, { commandTimeoutMs: 2000, tls });
    let killedAt = 0;
    let writes = 0;
    try {
      const writing = (async () => {
        try {
          for (let i = 0; i < 1_000_000 && (killedAt === 0 || Date.now() - killedAt < 5000); i++) {
            await writer.set(`s2:k${i}`, String(i));
            writes++;
            if ((await writer.wait(1, 1000)) >= 1) acknowledged.push(`s2:k${i}`);
          }
        } catch {
          // The master died under the writer: expected.
        }
      })();
      await sleep(1500);
      killedAt = Date.now();
      // Only redis-server dies; the sentinel on that node keeps running, as on a real node.
      await kill9(oldMaster.name, "redis");
      await writing;
    } finally {
      writer.disconnect();
    }
    expect(acknowledged.length).toBeGreaterThan(10);

    const newMaster = await waitUntil(
      async () => {
        for (const n of nodes) {
          const [ip] = (await sentinel(n, "get-master-addr-by-name", masterName).catch(() => [""])) as string[];
          if (ip && ip !== oldMaster.ip) return nodeAt(ip);
        }
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: "a sentinel to name a new master" },
    );
    const namedMs = Date.now() - killedAt;
    const refusals = new Map<string, number>();
    await waitUntil(
      () => redis(newMaster, (c) => c.set("s2:after", "1")).catch((e: Error) => {
        const code = e.message.split(" ")[0];
        refusals.set(code, (refusals.get(code) ?? 0) + 1);
        throw e;
      }),
      { timeoutMs: 30_000, intervalMs: 50, what: `new master ${newMaster.ip} to accept a write` },
    );
    const failoverMs = Date.now() - killedAt;
    const lost = await missingKeys(newMaster, acknowledged);
    console.log(
      `failover: new master ${newMaster.ip} accepted writes ${failoverMs} ms after kill -9 (down-after-milliseconds ${downAfterMs}); acknowledged writes ${acknowledged.length}, lost ${lost.length}\n` +
        `  (${writes} writes issued; a sentinel named ${newMaster.ip} after ${namedMs} ms; refused before: ${[...refusals].map(([c, n]) => `${c} x${n}`).join(", ") || "none"})\n` +
        failoverTimeline(killedAt),
    );
    expect(lost).toEqual([]);
    expect(newMaster).not.toBe(oldMaster);
    // Later scenarios start from a settled view: every sentinel names the new master.
    expect(await waitUntil(agreedMaster, { timeoutMs: 20_000, what: "all sentinels to name the new master" })).toBe(newMaster);
    firstFailover = { oldMaster, newMaster };
  });

  scenario("2b. every sentinel's notification script spooled the failover: +odown and +switch-master of the old master, +failover-end; the sender publishes them to a fake EventBridge", 60_000, async () => {
    if (!firstFailover) throw new Error("needs scenario 2's failover");
    const { oldMaster, newMaster } = firstFailover;
    const old = `${oldMaster.ip} ${redisPort}`;
    /** "<node> <event> <description>" of each spooled file. */
    const spooled = () =>
      nodes.flatMap((n) => {
        const spool = events.get(n.name)!.spool;
        return fs.readdirSync(spool).filter((f) => f.endsWith(".event")).map((f) => {
          const [time, kind, description] = fs.readFileSync(path.join(spool, f), "utf8").split("\n");
          if (!/^\d+\.\d+$/.test(time)) throw new Error(`${f}: no time on its first line`);
          return `${n.name} ${kind} ${description}`;
        });
      });
    const expected = [
      ...nodes.map((n) => `${n.name} +switch-master ${masterName} ${old} ${newMaster.ip} ${redisPort}`),
      ...nodes.map((n) => expect.stringMatching(new RegExp(`^${n.name} \\+odown master ${masterName} ${old} #quorum \\d+/\\d+$`))),
    ];
    // The leader's +failover-end comes once the other replica follows the new master.
    const seen = await waitUntil(
      (): string[] | false => {
        const lines = spooled();
        return lines.some((l) => l.endsWith(` +failover-end master ${masterName} ${old}`)) && expect.arrayContaining(expected).asymmetricMatch(lines) && lines;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: "the failover's events in the spools" },
    ).catch((e: Error) => {
      throw new Error(`${e.message}; spooled:\n${spooled().join("\n")}`);
    });
    console.log(`failover events spooled:\n  ${seen.join("\n  ")}`);
    expect(seen.filter((l) => / \+failover-end /.test(l))).toHaveLength(1);
    // Only the published kinds: no +sdown, +try-failover, +slave, ...
    expect(seen.filter((l) => !/ ([+]odown|-odown|[+]switch-master|[+]failover-end) /.test(l))).toEqual([]);

    // The new master's sender, as its unit runs it (as root, in the root namespace), against a fake EventBridge on loopback.
    const creds = { AccessKeyId: "ASIAFAKEKEY000000003", SecretAccessKey: randomBytes(20).toString("base64"), Token: randomBytes(24).toString("base64") };
    const aws = new FakeAws({ region: "us-east-1", role: "redis-node", creds, stored: { ssm: new Map(), secretsmanager: new Map() }, apiPath: "/" });
    const server = createServer(aws.listener());
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const own = events.get(newMaster.name)!;
      const sent = await run(["bash", own.step, "send"], {
        env: { REDIS_NODE_LIB: own.lib, REDIS_NODE_ENV: own.nodeEnv, REDIS_NODE_EVENTS_DIR: own.spool, REDIS_NODE_IMDS_URL: base, REDIS_NODE_AWS_ENDPOINT: `${base}/`, NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1" },
        timeoutMs: 30_000,
      });
      expect(sent.stderr).toMatch(/published \d+ events/);
      const switched = aws.state.events.map((e) => ({ source: e.Source, ...JSON.parse(e.Detail) })).find((d) => d.event === "+switch-master");
      expect(switched).toMatchObject({ source: SENTINEL_EVENT_SOURCE, node: newMaster.ip, masterName, oldAddress: oldMaster.ip, oldPort: redisPort, newAddress: newMaster.ip, newPort: redisPort });
      expect(fs.readdirSync(own.spool).filter((f) => f.endsWith(".event"))).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  });

  scenario("3. the old master, restarted, rejoins as a replica of the new master", 90_000, async () => {
    if (!firstFailover) throw new Error("needs scenario 2's failover");
    const { oldMaster, newMaster } = firstFailover;
    const restartedAt = Date.now();
    await restart(oldMaster.name, "redis");
    // Sentinel reconfigures it after a few seconds, then it full-syncs (diskless, delayed 5 s).
    await waitUntil(
      async () => {
        const r = await replication(oldMaster);
        if (r.role === "slave" && r.master_host === newMaster.ip && r.master_link_status === "up") return true;
        throw new Error(`role:${r.role} master_host:${r.master_host} master_link_status:${r.master_link_status}`);
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `${oldMaster.ip} to replicate from ${newMaster.ip}` },
    );
    const lost = await missingKeys(oldMaster, acknowledged);
    console.log(`rejoin: old master ${oldMaster.ip} replicates from ${newMaster.ip} ${Date.now() - restartedAt} ms after restart; acknowledged keys missing on it: ${lost.length} of ${acknowledged.length}`);
    expect(lost).toEqual([]);
    const write = await redis(oldMaster, (c) => c.set("s3:key", "x")).then(() => "accepted", (e: Error) => e.message);
    expect(write).toMatch(/^READONLY/);
  });

  scenario("4. a replica stopped and restarted resumes with a partial resync", 90_000, async () => {
    const master = await waitUntil(healthyMaster, { timeoutMs: 30_000, what: "a healthy master" });
    const replica = nodeAt(onlineReplicas(await replication(master))[0]);
    const syncStats = async () => {
      const stats = await redis(master, (c) => info(c, "stats"));
      return { full: Number(stats.sync_full), partial: Number(stats.sync_partial_ok) };
    };
    const before = await syncStats();
    // SIGTERM, as systemctl stop does: the replica saves its RDB with its replication id and offset.
    await stop(replica.name, "redis");
    const keys = Array.from({ length: 100 }, (_, i) => `s4:k${i}`);
    await redis(master, (c) => c.mset(...keys.flatMap((k, i) => [k, String(i)])));
    await restart(replica.name, "redis");
    await waitUntil(
      async () => onlineReplicas(await replication(master)).includes(replica.ip) && (await missingKeys(replica, keys)).length === 0,
      { timeoutMs: 30_000, intervalMs: 200, what: `${replica.ip} online again with the new keys` },
    );
    const after = await syncStats();
    console.log(`partial resync: replica ${replica.ip} restarted; master sync_partial_ok ${before.partial} -> ${after.partial}, sync_full ${before.full} -> ${after.full}`);
    expect(after.partial - before.partial).toBe(1);
    expect(after.full - before.full).toBe(0);
  });

  scenario("5. the outside namespace cannot reach redis or sentinel; the allowed client can", 30_000, async () => {
    const probe = (from: string) =>
      Promise.all(nodes.flatMap((n) => [redisPort, sentinelPort].map(async (port) => `${n.name}:${port} ${await probeTcp(topology!, from, n.ip, port, 2)}`)));
    const [outside, allowed] = await Promise.all([probe(OUTSIDE), probe(ROOT)]);
    const expected = (result: string) => nodes.flatMap((n) => [`${n.name}:${redisPort} ${result}`, `${n.name}:${sentinelPort} ${result}`]);
    expect(outside).toEqual(expected("timeout"));
    expect(allowed).toEqual(expected("connected"));
  });

  scenario("6. a sentinel-aware ioredis client keeps writing across a second failover", 120_000, async () => {
    const master = await waitUntil(healthyMaster, { timeoutMs: 30_000, what: "a healthy master" });
    // As the README's snippet, plus bounded retries; the failover detector
    // (not in the README) would leave ioredis-internal 2 s timers behind.
    const client = new Redis({
      sentinels: nodes.map((n) => ({ host: n.ip, port: sentinelPort })),
      name: masterName,
      username: APP.username,
      password: APP.password,
      sentinelUsername: SENTINEL_CLIENT.username,
      sentinelPassword: SENTINEL_CLIENT.password,
      tls,
      sentinelTLS: tls,
      enableTLSForSentinelMode: true,
      lazyConnect: true,
      connectTimeout: 1000,
      commandTimeout: 1000,
      // Fail fast instead of queueing, so every refused write is counted; reconnect for at most ~60 s.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => (times > 300 ? null : 200),
      sentinelRetryStrategy: (times) => (times > 300 ? null : 200),
    });
    client.on("error", () => undefined);
    let counter = 0;
    let lastWritten = 0;
    let failedWrites = 0;
    let killedAt = 0;
    let firstErrorAt = 0;
    let resumedAt = 0;
    try {
      await client.connect();
      const deadline = Date.now() + 60_000;
      for (let successesAfter = 0; Date.now() < deadline && successesAfter < 10; ) {
        if (killedAt === 0 && lastWritten >= 25) {
          killedAt = Date.now();
          await kill9(master.name, "redis");
        }
        try {
          await client.set("s6:counter", String(++counter));
          lastWritten = counter;
          if (firstErrorAt && !resumedAt) resumedAt = Date.now();
          if (resumedAt) successesAfter++;
        } catch {
          failedWrites++;
          if (!firstErrorAt) firstErrorAt = Date.now();
        }
        await sleep(20);
      }
      expect(killedAt).toBeGreaterThan(0);
      expect(resumedAt).toBeGreaterThan(0);
      // The server side of the client's connection is the node every sentinel now names.
      const newMaster = await waitUntil(agreedMaster, { timeoutMs: 20_000, what: "all sentinels to name the new master" });
      const serverAddress = /laddr=([\d.]+):/.exec((await client.call("CLIENT", "INFO")) as string)?.[1];
      console.log(`sentinel client: errors for ${resumedAt - firstErrorAt} ms (${failedWrites} failed writes) across the failover, then wrote to ${serverAddress}`);
      expect(newMaster).not.toBe(master);
      expect(serverAddress).toBe(newMaster.ip);
      expect(await redis(newMaster, (c) => c.get("s6:counter"))).toBe(String(lastWritten));
      expect(resumedAt - killedAt).toBeLessThan(30_000);
    } finally {
      client.disconnect();
    }
  });

  scenario("7. a master cut off from the other nodes stops accepting writes after min-replicas-max-lag; the majority fails over", 180_000, async () => {
    // Scenario 6 left its killed master down: bring it back, Sentinel makes it a replica.
    for (const node of nodes) if (!isRunning(node.name, "redis")) await restart(node.name, "redis");
    const master = await waitUntil(healthyMaster, { timeoutMs: 60_000, intervalMs: 250, what: "a healthy master with every node back" });
    const conf = fs.readFileSync(processOf(master.name, "redis")!.confFile, "utf8");
    const maxLag = Number(/^min-replicas-max-lag (\d+)$/m.exec(conf)![1]);
    expect(Number(/^min-replicas-to-write (\d+)$/m.exec(conf)![1])).toBe(1);
    const others = nodes.filter((n) => n !== master);
    // The master's node loses the other nodes, both ways; the application (root namespace) still reaches it.
    const partition = (op: "-I" | "-D") =>
      Promise.all(others.flatMap((o) => [
        topology!.exec(master.name, ["iptables", op, "INPUT", "-s", o.ip, "-j", "DROP"]),
        topology!.exec(master.name, ["iptables", op, "OUTPUT", "-d", o.ip, "-j", "DROP"]),
      ]));
    const writer = await connect(master.ip, redisPort, APP, { commandTimeoutMs: 2000, tls });
    const accepted: string[] = [];
    let partitionedAt = 0;
    let refusedAt = 0;
    let refusal = "";
    try {
      await partition("-I");
      partitionedAt = Date.now();
      for (let i = 0; i < 2000 && !refusedAt; i++) {
        try {
          await writer.set(`s7:k${i}`, String(i));
          accepted.push(`s7:k${i}`);
        } catch (e) {
          refusal = (e as Error).message;
          refusedAt = Date.now();
        }
        await sleep(20);
      }
    } finally {
      writer.disconnect();
    }
    // Meanwhile the two other sentinels (a majority) promote one of the other nodes.
    const newMaster = await waitUntil(
      async () => {
        const named = await Promise.all(others.map(async (n) => ((await sentinel(n, "get-master-addr-by-name", masterName)) as string[])[0]));
        return named.every((ip) => ip === named[0]) && named[0] !== master.ip ? nodeAt(named[0]) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: "the majority side to elect a new master" },
    );
    await partition("-D");
    await waitUntil(
      async () => {
        const r = await replication(master);
        return r.role === "slave" && r.master_host === newMaster.ip && r.master_link_status === "up";
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `the healed old master ${master.ip} to replicate from ${newMaster.ip}` },
    );
    const survived = accepted.length - (await missingKeys(newMaster, accepted)).length;
    console.log(
      `partition: the cut-off master accepted ${accepted.length} writes in the ${refusedAt - partitionedAt} ms before refusing ` +
        `(min-replicas-max-lag ${maxLag} s): "${refusal.split(" ")[0]}"; ${survived} of them survived the heal; new master ${newMaster.ip}`,
    );
    expect(refusal).toMatch(/^NOREPLICAS/);
    expect(newMaster).not.toBe(master);
    // Writes without a replica's acknowledgement on the cut-off side are the bounded loss.
    expect(survived).toBe(0);
  });

  scenario("8. a manual SENTINEL FAILOVER moves the master and keeps every acknowledged write", 90_000, async () => {
    const master = await waitUntil(healthyMaster, { timeoutMs: 60_000, what: "a healthy master" });
    const keys = Array.from({ length: 50 }, (_, i) => `s8:k${i}`);
    await redis(master, async (c) => {
      await c.mset(...keys.flatMap((k, i) => [k, String(i)]));
      expect(await c.wait(2, 2000)).toBe(2);
    });
    const startedAt = Date.now();
    expect(await sentinel(others(master)[0], "failover", masterName)).toBe("OK");
    const newMaster = await waitUntil(
      async () => {
        const named = await agreedMaster();
        return named !== master ? named : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: "the sentinels to name another master" },
    );
    await waitUntil(() => redis(newMaster, (c) => c.set("s8:after", "1")), { timeoutMs: 10_000, intervalMs: 50, what: `${newMaster.ip} to accept a write` });
    console.log(`manual failover: ${master.ip} -> ${newMaster.ip}, writable after ${Date.now() - startedAt} ms\n${failoverTimeline(startedAt)}`);
    expect(await missingKeys(newMaster, [...keys, ...acknowledged])).toEqual([]);
    await waitUntil(healthyMaster, { timeoutMs: 60_000, what: "the old master back as a replica" });
  });

  const others = (node: Node) => nodes.filter((n) => n !== node);

  /**
   * Failover events of every sentinel after the kill, and the replication
   * events of the redis servers, in ms after the kill: where the time went.
   */
  function failoverTimeline(killedAt: number): string {
    const killed = new Date(killedAt);
    const killedMsOfDay = ((killed.getHours() * 60 + killed.getMinutes()) * 60 + killed.getSeconds()) * 1000 + killed.getMilliseconds();
    const events: Array<[number, string]> = [];
    for (const node of nodes) {
      for (const role of ["sentinel", "redis"] as const) {
        const logFile = processOf(node.name, role)?.logFile;
        const log = logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
        for (const line of log.split("\n")) {
          const m = /(\d\d):(\d\d):(\d\d)\.(\d{3}) [#*-] (.*)$/.exec(line);
          if (!m || !/^[+-](sdown|odown|try-failover|elected-leader|selected-slave|promoted-slave|switch-master|slave-reconf|failover-end)|MASTER MODE|Partial resynchronization request|Synchronization with replica|Full resync requested/.test(m[5])) continue;
          const ms = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]) - killedMsOfDay;
          if (ms >= 0 && ms < 60_000) events.push([ms, `${node.name}/${role}: ${m[5].slice(0, 110)}`]);
        }
      }
    }
    return events.sort((a, b) => a[0] - b[0]).map(([ms, text]) => `  +${ms} ms ${text}`).join("\n");
  }
}

/**
 * What a client without credentials gets: the reply to `command` without
 * AUTH, then to AUTH with a wrong password (first word of each error); or,
 * when the connection fails, the first error (a failed TLS handshake shows
 * only in the 'error' event).
 */
async function unauthenticated(host: string, port: number, command: string[], tls: ConnectionOptions | undefined): Promise<string> {
  const client = new Redis({
    host, port, tls, lazyConnect: true, connectTimeout: 2000, commandTimeout: 2000, disconnectTimeout: 100,
    retryStrategy: () => null, maxRetriesPerRequest: 0, enableReadyCheck: false, enableOfflineQueue: false,
  });
  let firstError: string | undefined;
  client.on("error", (e: Error) => (firstError ??= e.message));
  const firstWord = (p: Promise<unknown>) => p.then((reply) => `accepted:${String(reply)}`, (e: Error) => e.message.split(" ")[0]);
  try {
    await client.connect();
    return `${await firstWord(client.call(command[0], ...command.slice(1)))} ${await firstWord(client.call("AUTH", "not the password"))}`;
  } catch (e) {
    return `no connection: ${firstError ?? (e as Error).message}`;
  } finally {
    client.disconnect();
  }
}
