/**
 * The writer and reader names on real Redis and Sentinel, one network
 * namespace per node (see DESIGN.md, "Testing against the real thing"):
 * examples/basic synthesized with `dns`, every sentinel running its node's
 * own client-reconfig-script, each node's update step (what redis-dns.service
 * runs as root) started as its path unit would when a trigger arrives,
 * against a fake Route 53 that checks SigV4 (on the bridge address of the
 * root namespace) and a fake DNS server answering from the fake zone.
 * Needs root; the scenarios run in order and share one topology.
 */
import { promises as dnsPromises } from "dns";
import * as fs from "fs";
import { createServer, Server } from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { ConnectionOptions } from "tls";
import { BUILTIN_USERS, NODE_ENV_PATH } from "../../lib/boot";
import { FakeAws, FakeRecordChange } from "../support/fake-aws";
import { startFakeDns } from "../support/fake-dns";
import { info, Login, withClient } from "./harness/client";
import { Topology, sleep } from "./harness/netns";
import { allLogs, kill9, processOf, restart, stopAll, waitUntil } from "./harness/processes";
import { describeIntegration, ScenarioRun } from "./harness/suite";
import { GroupLayout, GroupNode, layOutGroup, NodeDns, provideTestSecrets, startGroup, testPasswords, nodeAtAddress } from "./synthesized-group";
import { synthesizeBasicExample } from "./synthesized-nodes";

const PASSWORDS = testPasswords();
const login = (username: string): Login => ({ username, password: PASSWORDS[username] });
const APP = login("app");
const ADMIN = login("admin");
const SENTINEL_CLIENT = login(BUILTIN_USERS.sentinelClient);
const CREDS = { AccessKeyId: "ASIATESTDNS", SecretAccessKey: "dns-test-secret", Token: "dns-test-session" };

describeIntegration("Writer and reader names in Route 53, kept by the sentinels", ["redis-server", "redis-sentinel", "ip", "iptables", "curl", "python3"], scenarios);

function scenarios(): void {
  let layout: GroupLayout | undefined;
  let topology: Topology | undefined;
  let nodes: GroupNode[] = [];
  let masterName = "";
  let redisPort = 0;
  let sentinelPort = 0;
  let tls: ConnectionOptions | undefined;
  let dnsSteps: ReadonlyMap<string, NodeDns> = new Map();
  let initialMaster: GroupNode | undefined;
  // Scenarios in order; the teardown keeps the logs when one did not finish.
  const progress = new ScenarioRun();
  const { tracked, scenario } = progress;
  const aws = new FakeAws({ region: "us-east-1", role: "redis-node", creds: CREDS, stored: { ssm: new Map(), secretsmanager: new Map() }, apiPath: "/" });
  let server: Server | undefined;
  let base = "";
  let resolver: dnsPromises.Resolver | undefined;
  let closeDns: (() => void) | undefined;
  // The node.env settings of the part (the same on every node).
  let settings: { zoneId: string; writer: string; reader: string; ttl: number } | undefined;
  // The path units: one loop per node, stopped in afterAll.
  let pathUnitsRunning = false;
  const pathUnits: Promise<void>[] = [];
  const stepOutputs: string[] = [];

  const nodeAt = (ip: string) => nodeAtAddress(nodes, ip);
  const redis = <T>(node: GroupNode, fn: (c: import("ioredis").default) => Promise<T>) => withClient(node.ip, redisPort, ADMIN, fn, { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });
  const roleOf = async (node: GroupNode) => ((await redis(node, (c) => c.call("ROLE"))) as string[])[0];
  const sentinel = (node: GroupNode, ...args: string[]) =>
    withClient(node.ip, sentinelPort, SENTINEL_CLIENT, (c) => c.call("SENTINEL", ...args), { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });
  const writer = () => aws.state.zones.get(settings!.zoneId)?.get(settings!.writer)?.values ?? [];
  const reader = () => aws.state.zones.get(settings!.zoneId)?.get(settings!.reader)?.values ?? [];
  const writerChanges = () => aws.state.recordChanges.filter((c) => c.name === settings!.writer);

  async function agreedMaster(): Promise<GroupNode> {
    const named = await Promise.all(nodes.map(async (n) => ((await sentinel(n, "get-master-addr-by-name", masterName)) as string[])[0]));
    if (new Set(named).size !== 1) throw new Error(`sentinels disagree: ${named.join(", ")}`);
    return nodeAt(named[0]);
  }
  async function masterWithReplicas(count: number): Promise<GroupNode> {
    const master = await agreedMaster();
    const repl = await redis(master, (c) => info(c, "replication"));
    const online = Object.entries(repl).filter(([k, v]) => /^slave\d+$/.test(k) && v.includes("state=online"));
    if (online.length !== count) throw new Error(`master ${master.ip} has ${online.length} online replicas`);
    for (const n of nodes) {
      const replicas = (await sentinel(n, "replicas", masterName)) as string[][];
      const healthy = replicas.filter((r) => {
        const f = Object.fromEntries(r.flatMap((v, i) => (i % 2 === 0 ? [[v, r[i + 1]]] : [])));
        return f.flags === "slave" && f["master-link-status"] === "ok" && f["master-host"] === master.ip;
      });
      if (healthy.length !== count) throw new Error(`the sentinel on ${n.ip} sees ${healthy.length} healthy replicas`);
    }
    return master;
  }

  /** The node's dns step with `args`, as root in its namespace, as its unit runs it. */
  async function runStep(node: GroupNode, ...args: string[]): Promise<string> {
    const step = dnsSteps.get(node.name)!;
    const result = await topology!.exec(node.name, ["bash", step.step, ...args], {
      env: {
        REDIS_NODE_LIB: step.lib,
        REDIS_NODE_ENV: path.join(layout!.workRoot, `${node.name}-dns.env`),
        REDIS_NODE_DNS_DIR: step.triggers,
        REDIS_NODE_SENTINEL_CONF: path.join(node.dir, "sentinel.conf"),
        REDIS_NODE_IMDS_URL: base,
        REDIS_NODE_ROUTE53_ENDPOINT: base,
      },
      timeoutMs: 60_000,
      allowFailure: true,
    });
    const output = `${node.name} ${args.join(" ")} (exit ${result.code}): ${result.stderr.trim()}`;
    stepOutputs.push(output);
    return output;
  }
  const triggersOf = (node: GroupNode) => fs.readdirSync(dnsSteps.get(node.name)!.triggers).filter((f) => f.endsWith(".switch"));

  /** redis-dns.path: the update as soon as a trigger is in the directory; bounded by a deadline. */
  async function pathUnit(node: GroupNode): Promise<void> {
    const deadline = Date.now() + 15 * 60_000;
    while (pathUnitsRunning && Date.now() < deadline) {
      if (triggersOf(node).length > 0) await runStep(node, "update");
      await sleep(50);
    }
  }

  /** What an application that knows only the writer name does: resolve it (through the fake zone), connect, write. */
  async function writeThroughWriterName(key: string): Promise<string> {
    const [answer] = await resolver!.resolve4(settings!.writer, { ttl: true });
    await withClient(answer.address, redisPort, APP, (c) => c.set(key, "v"), { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });
    return answer.address;
  }

  beforeAll(tracked(async () => {
    layout = await layOutGroup(synthesizeBasicExample({ dns: { zoneName: "redis.internal" } }));
    topology = layout.topology;
    nodes = layout.nodes;
    const group = await startGroup(layout, provideTestSecrets(PASSWORDS));
    ({ masterName, redisPort, sentinelPort, tls, initialMaster } = group);
    dnsSteps = group.dns;
    expect([...dnsSteps.keys()].sort()).toEqual(nodes.map((n) => n.name).sort());
    const env = layout.fileOf(nodes[0], NODE_ENV_PATH);
    const setting = (name: string) => new RegExp(`^${name}='([^']*)'$`, "m").exec(env)?.[1] ?? "";
    settings = { zoneId: setting("DNS_ZONE_ID"), writer: setting("DNS_WRITER_NAME"), reader: setting("DNS_READER_NAME"), ttl: Number(setting("DNS_TTL")) };
    expect(settings).toMatchObject({ writer: "writer.redis.redis.internal", reader: "reader.redis.redis.internal", ttl: 5 });
    for (const node of nodes) {
      const overrides = { NODE_OPS_PASSWORD_FILE: path.join(node.secretsDir, "node-ops.password"), TLS_DIR: path.join(node.dir, "tls") };
      fs.writeFileSync(path.join(layout.workRoot, `${node.name}-dns.env`), layout.fileOf(node, NODE_ENV_PATH) + Object.entries(overrides).map(([k, v]) => `${k}='${v}'\n`).join(""), { mode: 0o600 });
    }
    // The zone as Terraform leaves it: the planned master, the planned replicas; the role may change these two names only.
    const replicas = nodes.filter((n) => n !== initialMaster).map((n) => n.ip).sort();
    aws.state.zones.set(settings.zoneId, new Map([
      [settings.writer, { type: "A", ttl: settings.ttl, values: [initialMaster!.ip] }],
      [settings.reader, { type: "A", ttl: settings.ttl, values: replicas }],
    ]));
    aws.state.changeableNames = [settings.writer, settings.reader];
    server = createServer(aws.listener());
    await new Promise<void>((resolve) => server!.listen(0, topology!.clientAddress, resolve));
    base = `http://${topology.clientAddress}:${(server.address() as AddressInfo).port}`;
    const fakeDns = await startFakeDns("127.0.0.1", (name) => {
      const record = aws.state.zones.get(settings!.zoneId)?.get(name);
      return record && { ttl: record.ttl, addresses: record.values };
    });
    closeDns = () => fakeDns.socket.close();
    resolver = new dnsPromises.Resolver({ timeout: 1000, tries: 2 });
    resolver.setServers([`127.0.0.1:${fakeDns.port}`]);
    await waitUntil(() => masterWithReplicas(2), { timeoutMs: 30_000, intervalMs: 250, what: "a master with 2 healthy replicas, seen by 3 sentinels" });
    pathUnitsRunning = true;
    for (const node of nodes) pathUnits.push(pathUnit(node));
  }), 90_000);

  afterAll(async () => {
    pathUnitsRunning = false;
    await Promise.all(pathUnits);
    server?.close();
    closeDns?.();
    try {
      if (progress.failed) console.error(`dns steps:\n${stepOutputs.join("\n")}\nrecord changes: ${JSON.stringify(aws.state.recordChanges)}\nrejected: ${aws.state.rejected.join("\n")}\nlogs (kept in ${layout?.workRoot}):\n${allLogs(60)}`);
    } finally {
      try {
        await stopAll();
      } finally {
        await topology?.destroy();
      }
    }
    if (!progress.failed && layout) fs.rmSync(layout.workRoot, { recursive: true, force: true });
  }, 60_000);

  scenario("1. the timer's run on a settled group reads both names back (signed) and changes nothing; the writer name resolves to the master, which takes writes", 60_000, async () => {
    for (const node of nodes) {
      const output = await runStep(node, "update");
      expect(output).toMatch(/\(exit 0\)/);
    }
    expect(aws.state.rejected).toEqual([]);
    expect(aws.state.apiCalls).toBe(2 * nodes.length);
    expect(aws.state.recordChanges).toEqual([]);
    expect(await writeThroughWriterName("dns:before")).toBe(initialMaster!.ip);
    const [answer] = await resolver!.resolve4(settings!.writer, { ttl: true });
    expect(answer.ttl).toBe(5);
    await expect(resolver!.resolve4("nothing.redis.internal")).rejects.toMatchObject({ code: "ENOTFOUND" });
  });

  scenario("2. kill -9 of the master: the writer record follows the new master (every write names the node that is master), the client writes again through the name; the reader lists the replica left", 120_000, async () => {
    const oldMaster = initialMaster!;
    const killedAt = Date.now();
    await kill9(oldMaster.name, "redis");
    const newMaster = await waitUntil(async () => {
      const m = await agreedMaster();
      return m !== oldMaster && m;
    }, { timeoutMs: 60_000, intervalMs: 100, what: "the sentinels agreeing on a new master" });
    await waitUntil(() => writer()[0] === newMaster.ip, { timeoutMs: 30_000, intervalMs: 50, what: `the writer record at ${newMaster.ip}` });
    const updatedAt = writerChanges().at(-1)!.at;
    // The time from Sentinel's +switch-master (the first sentinel's log line) to the record's change.
    const switchedAt = switchMasterTime(oldMaster.ip, killedAt);
    console.log(`writer record: ${oldMaster.ip} -> ${newMaster.ip} ${updatedAt - killedAt} ms after kill -9, ${switchedAt === undefined ? "?" : updatedAt - switchedAt} ms after the first +switch-master; writer changes: ${writerChanges().map((c) => `${c.caller}:${c.values}`).join(", ")}`);
    // Every write of the writer name after the kill named the new master (the only node that was master since).
    expect(writerChanges().map((c: FakeRecordChange) => c.values)).toEqual(writerChanges().map(() => [newMaster.ip]));
    expect(await roleOf(newMaster)).toBe("master");
    expect(aws.state.rejected).toEqual([]);
    // The application, knowing only the name, writes again (after the TTL its resolver would ask again: ours asks every time).
    expect(await writeThroughWriterName("dns:after")).toBe(newMaster.ip);
    // The reader: the replica left, once it follows the new master (the failover's trigger, or the timer).
    const other = nodes.find((n) => n !== oldMaster && n !== newMaster)!;
    await waitUntil(() => masterWithReplicas(1), { timeoutMs: 30_000, intervalMs: 250, what: "the other replica following the new master" });
    await runStep(newMaster, "update");
    expect(reader()).toEqual([other.ip]);
  });

  scenario("3. a stale +switch-master (to the old master) changes nothing; the old master, back as a replica, joins the reader name", 120_000, async () => {
    const master = await agreedMaster();
    const oldMaster = initialMaster!;
    const before = aws.state.recordChanges.length;
    const observer = nodes.find((n) => n !== master)!;
    // As Sentinel calls it: <master-name> <role> <state> <from-ip> <from-port> <to-ip> <to-port>.
    await topology!.exec(observer.name, ["bash", dnsSteps.get(observer.name)!.step, masterName, "observer", "start", master.ip, String(redisPort), oldMaster.ip, String(redisPort)], {
      env: { REDIS_NODE_DNS_DIR: dnsSteps.get(observer.name)!.triggers },
    });
    await waitUntil(() => stepOutputs.some((o) => o.startsWith(`${observer.name} update`) && /1 event\(s\) name another master/.test(o)), { timeoutMs: 10_000, intervalMs: 50, what: "the path unit's run on the stale trigger" });
    expect(triggersOf(observer)).toEqual([]);
    expect(aws.state.recordChanges.length).toBe(before);
    expect(writer()).toEqual([master.ip]);

    await restart(oldMaster.name, "redis");
    await waitUntil(() => masterWithReplicas(2), { timeoutMs: 60_000, intervalMs: 250, what: "the old master back as a replica" });
    expect(await roleOf(oldMaster)).toBe("slave");
    await runStep(observer, "update");
    expect(reader()).toEqual(nodes.filter((n) => n !== master).map((n) => n.ip).sort());
    expect(writer()).toEqual([master.ip]);
    // Two more runs: nothing left to change.
    const changes = aws.state.recordChanges.length;
    for (const node of nodes) await runStep(node, "update");
    expect(aws.state.recordChanges.length).toBe(changes);
    expect(aws.state.rejected).toEqual([]);
  });

  /** When the first sentinel logged +switch-master away from `from` (after `since`), as epoch ms; undefined if none did. */
  function switchMasterTime(from: string, since: number): number | undefined {
    const times: number[] = [];
    for (const node of nodes) {
      const logFile = processOf(node.name, "sentinel")?.logFile;
      const log = logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
      for (const line of log.split("\n")) {
        const m = /(\d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d)\.(\d{3}) # \+switch-master \S+ (\S+)/.exec(line);
        if (!m || m[3] !== from) continue;
        const at = Date.parse(m[1]) + Number(m[2]);
        if (at >= since - 1000) times.push(at);
      }
    }
    return times.length > 0 ? Math.min(...times) : undefined;
  }
}
