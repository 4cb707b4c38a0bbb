/**
 * The Prometheus redis exporter (Debian's prometheus-redis-exporter) on real
 * redis-server and redis-sentinel processes, one network namespace per node
 * of the example synthesized with monitoring on: each node's exporter runs
 * with the arguments of its synthesized unit drop-in (systemd's credentials
 * directory %d played by a private directory), logged in as the monitor
 * user over TLS with the node's certificate, its password file written by
 * the metrics step's own function. The scrapes are the ones the node's
 * CloudWatch agent makes (its synthesized scrape configuration). Needs root.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import Redis from "ioredis";
import { ConnectionOptions } from "tls";
import { EXPORTER_DROP_IN, libraryPathOnNode, SCRAPE_CONFIG_PATH } from "../../lib/boot";
import { Login, withClient } from "./harness/client";
import { probeTcp, ROOT, run, Topology } from "./harness/netns";
import { allLogs, processOf, stopAll, waitUntil } from "./harness/processes";
import { describeIntegration, ScenarioRun } from "./harness/suite";
import { GroupLayout, GroupNode, layOutGroup, MAXMEMORY_MB, redisHelpersOf, startGroup, provideTestSecrets, testPasswords } from "./synthesized-group";
import { synthesizeBasicExample } from "./synthesized-nodes";

const SUITE = "Metrics: the packaged exporter with the synthesized configuration, on the synthesized nodes";
const EXPORTER = "prometheus-redis-exporter";
const PASSWORDS = testPasswords();
const login = (username: string): Login => ({ username, password: PASSWORDS[username] });

describeIntegration(SUITE, ["redis-server", "redis-sentinel", "redis-cli", "ip", "iptables", "curl", "python3", EXPORTER], scenarios);

/** One sample of a Prometheus text exposition: name, labels, value. */
interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

function scenarios(): void {
  let layout: GroupLayout | undefined;
  let topology: Topology | undefined;
  let nodes: GroupNode[] = [];
  let master: GroupNode;
  let redisPort = 0;
  let sentinelPort = 0;
  let tls: ConnectionOptions | undefined;
  const exporters = new Map<string, ChildProcess>();
  const exporterLogs = new Map<string, string>();
  // Scenarios in order; the teardown keeps the logs when one did not finish.
  const progress = new ScenarioRun();
  const { tracked, scenario } = progress;

  /** What the node's CloudWatch agent scrapes, per its synthesized scrape configuration: job -> URL. */
  const scrapeUrls = (node: GroupNode): Record<string, string> => {
    const config = JSON.parse(layout!.fileOf(node, SCRAPE_CONFIG_PATH));
    return Object.fromEntries(
      config.scrape_configs.map((job: { job_name: string; metrics_path?: string; params?: Record<string, string[]>; static_configs: Array<{ targets: string[] }> }) => {
        const query = Object.entries(job.params ?? {}).map(([k, v]) => `${k}=${encodeURIComponent(v[0])}`).join("&");
        return [job.job_name, `http://${job.static_configs[0].targets[0]}${job.metrics_path ?? "/metrics"}${query ? `?${query}` : ""}`];
      }),
    );
  };
  /** One scrape, from inside the node's own namespace, as its agent makes it. */
  const scrape = async (node: GroupNode, job: string): Promise<Sample[]> => {
    const result = await topology!.exec(node.name, ["curl", "-fsS", "--max-time", "10", scrapeUrls(node)[job]], { timeoutMs: 15_000 });
    return parseExposition(result.stdout);
  };
  const valueOf = (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  const data = <T>(node: GroupNode, fn: (client: Redis) => Promise<T>) => withClient(node.ip, redisPort, login("admin"), fn, { tls });

  beforeAll(tracked(async () => {
    layout = await layOutGroup(synthesizeBasicExample({ monitoring: { enabled: true } }));
    topology = layout.topology;
    nodes = layout.nodes;
    const group = await startGroup(layout, provideTestSecrets(PASSWORDS));
    ({ redisPort, sentinelPort, tls } = group);
    master = group.initialMaster;
    await waitUntil(
      async () => (await data(master, (c) => c.info("replication"))).match(/^slave\d+:.*state=online/gm)?.length === 2,
      { timeoutMs: 30_000, intervalMs: 250, what: "the master with 2 online replicas" },
    );

    // Each node's exporter, as its unit runs it: the drop-in's ExecStart, %d a
    // private directory with what LoadCredential puts there.
    for (const node of nodes) {
      const dropIn = layout.fileOf(node, EXPORTER_DROP_IN);
      const execStart = dropIn.split("\n").filter((l) => l.startsWith("ExecStart=")).pop()!.slice("ExecStart=".length).split(" ");
      const credentials = path.join(layout.workRoot, `${node.name}-exporter-credentials`);
      fs.mkdirSync(credentials, { mode: 0o700 });
      const passwords = path.join(credentials, "passwords.json");
      // The metrics step's own function, with the node's node.env and the secret-fetch step's file.
      const lib = path.dirname(redisHelpersOf(layout, node));
      fs.writeFileSync(path.join(lib, "parts", "metrics.sh"), layout.fileOf(node, libraryPathOnNode("parts/metrics.sh")), { mode: 0o700 });
      await run(["bash", "-c", 'source "$1/parts/metrics.sh" && load_node_env && write_exporter_passwords "$2"', "metrics", lib, passwords], {
        env: { REDIS_NODE_LIB: lib, REDIS_NODE_ENV: path.join(lib, "node.env"), REDIS_NODE_SECRETS_DIR: node.secretsDir },
      });
      expect((fs.statSync(passwords).mode & 0o777).toString(8)).toBe("600");
      for (const file of ["ca.crt", "node.crt", "node.key"]) fs.copyFileSync(path.join(node.dir, "tls", file), path.join(credentials, file));
      const argv = execStart.map((arg) => arg.replace(/%d/g, credentials));
      const child = spawn("ip", ["netns", "exec", topology.namespaceOf(node.name), ...argv], { stdio: ["ignore", "pipe", "pipe"] });
      exporterLogs.set(node.name, "");
      const keep = (chunk: Buffer) => exporterLogs.set(node.name, (exporterLogs.get(node.name)! + chunk.toString()).slice(-8000));
      child.stdout!.on("data", keep);
      child.stderr!.on("data", keep);
      exporters.set(node.name, child);
    }
    for (const node of nodes) {
      await waitUntil(async () => valueOf(await scrape(node, "redis").catch(() => []), "redis_up") === 1, { timeoutMs: 20_000, intervalMs: 250, what: `${node.name}'s exporter serving redis_up 1` });
    }
  }), 120_000);

  afterAll(async () => {
    try {
      if (progress.failed) {
        console.error(`logs of the failed run (kept in ${layout?.workRoot}):\n${allLogs(60)}`);
        for (const [name, log] of exporterLogs) console.error(`exporter of ${name}:\n${log}`);
      }
    } finally {
      for (const child of exporters.values()) child.kill("SIGKILL");
      try {
        await stopAll();
      } finally {
        await topology?.destroy();
      }
    }
    if (!progress.failed && layout) fs.rmSync(layout.workRoot, { recursive: true, force: true });
  }, 60_000);

  scenario("1. every node's redis-server, over TLS as the monitor user: up, memory used against maxmemory, connected clients, no scrape error", 30_000, async () => {
    for (const node of nodes) {
      const samples = await scrape(node, "redis");
      expect({ node: node.name, up: valueOf(samples, "redis_up"), error: valueOf(samples, "redis_exporter_last_scrape_error", { err: "" }) }).toEqual({ node: node.name, up: 1, error: 0 });
      expect(valueOf(samples, "redis_memory_used_bytes")).toBeGreaterThan(0);
      expect(valueOf(samples, "redis_memory_max_bytes")).toBe(MAXMEMORY_MB * 1024 * 1024);
      // At least the exporter itself, and the sentinels' links.
      expect(valueOf(samples, "redis_connected_clients")).toBeGreaterThanOrEqual(2);
      for (const name of ["redis_rejected_connections_total", "redis_evicted_keys_total", "redis_expired_keys_total", "redis_commands_processed_total", "redis_latest_fork_seconds"]) {
        expect({ node: node.name, name, present: valueOf(samples, name) !== undefined }).toEqual({ node: node.name, name, present: true });
      }
      expect(valueOf(samples, "redis_rdb_last_bgsave_status")).toBe(1);
      expect(valueOf(samples, "redis_aof_last_write_status")).toBe(1);
    }
    // It logged in with what its credentials directory holds: the monitor user's password, nothing else.
    const credentials = JSON.parse(fs.readFileSync(path.join(layout!.workRoot, `${master.name}-exporter-credentials`, "passwords.json"), "utf8"));
    expect(Object.values(credentials)).toEqual([PASSWORDS.monitor, PASSWORDS.monitor]);
    expect(Object.keys(credentials)).toEqual([`rediss://${master.ip}:${redisPort}`, `rediss://${master.ip}:${sentinelPort}`]);
  });

  scenario("2. replication: the master's replicas and their offsets, each replica's link and offset", 30_000, async () => {
    await data(master, (c) => c.set("metrics:replicated", "1"));
    const replicas = nodes.filter((n) => n !== master);
    // Bounded: until each replica has acknowledged the write.
    const samples = await waitUntil(
      async () => {
        const s = await scrape(master, "redis");
        const offset = valueOf(s, "redis_master_repl_offset")!;
        return replicas.every((r) => valueOf(s, "redis_connected_slave_offset_bytes", { slave_ip: r.ip }) === offset) ? s : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250, what: "both replicas' offsets at the master's" },
    );
    expect(valueOf(samples, "redis_connected_slaves")).toBe(2);
    expect(valueOf(samples, "redis_master_repl_offset")).toBeGreaterThan(0);
    for (const replica of replicas) expect(valueOf(samples, "redis_connected_slave_lag_seconds", { slave_ip: replica.ip })).toBeGreaterThanOrEqual(0);
    for (const replica of replicas) {
      const s = await scrape(replica, "redis");
      expect({ replica: replica.name, link: valueOf(s, "redis_master_link_up") }).toEqual({ replica: replica.name, link: 1 });
      expect(valueOf(s, "redis_master_last_io_seconds_ago")).toBeGreaterThanOrEqual(0);
      expect(valueOf(s, "redis_master_repl_offset")).toBeGreaterThan(0);
    }
  });

  scenario("3. replica lag in bytes moves when a replica is paused, and closes when it resumes", 30_000, async () => {
    const replica = nodes.find((n) => n !== master)!;
    const pid = processOf(replica.name, "redis")!.pid;
    let lagWhilePaused: number | undefined;
    process.kill(pid, "SIGSTOP");
    try {
      await data(master, async (c) => {
        for (let i = 0; i < 100; i++) await c.set(`metrics:lag:${i}`, "x".repeat(100));
      });
      const s = await scrape(master, "redis");
      lagWhilePaused = valueOf(s, "redis_master_repl_offset")! - valueOf(s, "redis_connected_slave_offset_bytes", { slave_ip: replica.ip })!;
    } finally {
      // Well before Sentinel's down-after (5 s): no failover.
      process.kill(pid, "SIGCONT");
    }
    expect(lagWhilePaused).toBeGreaterThan(100 * 100);
    await waitUntil(
      async () => {
        const s = await scrape(master, "redis");
        return valueOf(s, "redis_master_repl_offset") === valueOf(s, "redis_connected_slave_offset_bytes", { slave_ip: replica.ip });
      },
      { timeoutMs: 10_000, intervalMs: 250, what: "the resumed replica's lag back to 0" },
    );
  });

  scenario("4. keyspace hits and misses count the application's GETs", 30_000, async () => {
    const before = await scrape(master, "redis");
    await withClient(master.ip, redisPort, login("app"), async (c) => {
      await c.set("metrics:hit", "1");
      for (let i = 0; i < 25; i++) await c.get("metrics:hit");
      for (let i = 0; i < 10; i++) await c.get(`metrics:missing:${i}`);
    }, { tls });
    const after = await scrape(master, "redis");
    expect(valueOf(after, "redis_keyspace_hits_total")! - valueOf(before, "redis_keyspace_hits_total")!).toBe(25);
    expect(valueOf(after, "redis_keyspace_misses_total")! - valueOf(before, "redis_keyspace_misses_total")!).toBe(10);
  });

  scenario("5. every sentinel, through /scrape as the agent asks: the master it sees, the sentinels and replicas it knows", 30_000, async () => {
    for (const node of nodes) {
      const samples = await waitUntil(
        async () => {
          const s = await scrape(node, "sentinel");
          return valueOf(s, "redis_sentinel_master_ok_slaves") === 2 ? s : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 250, what: `the sentinel of ${node.name} with 2 ok replicas` },
      );
      expect({ node: node.name, up: valueOf(samples, "redis_up") }).toEqual({ node: node.name, up: 1 });
      expect(valueOf(samples, "redis_sentinel_master_status", { master_address: `${master.ip}:${redisPort}`, master_status: "ok" })).toBe(1);
      expect(valueOf(samples, "redis_sentinel_master_sentinels")).toBe(3);
      expect(valueOf(samples, "redis_sentinel_master_ok_sentinels")).toBe(3);
      expect(valueOf(samples, "redis_sentinel_master_slaves")).toBe(2);
      expect(valueOf(samples, "redis_sentinel_tilt")).toBe(0);
    }
  });

  scenario("6. the monitor user was enough: no ACL denial on any redis-server or sentinel, and CONFIG GET was never run", 30_000, async () => {
    for (const node of nodes) {
      for (const port of [redisPort, sentinelPort]) {
        const denials = await withClient(node.ip, port, login("admin"), (c) => c.call("ACL", "LOG") as Promise<unknown[]>, { tls });
        expect({ node: node.name, port, denials: JSON.stringify(denials) }).toEqual({ node: node.name, port, denials: "[]" });
      }
      const commands = await data(node, (c) => c.info("commandstats"));
      expect(commands).not.toMatch(/cmdstat_config\|get/);
      expect(commands).toMatch(/cmdstat_slowlog\|get/);
    }
  });

  scenario("7. every metric the agent keeps and publishes is one the real exporter serves: data nodes by their role, sentinels", 30_000, async () => {
    const kept = (node: GroupNode, job: string): string[] => {
      const config = JSON.parse(layout!.fileOf(node, SCRAPE_CONFIG_PATH));
      return config.scrape_configs.find((j: { job_name: string }) => j.job_name === job).metric_relabel_configs[0].regex.split("|");
    };
    const onlyOnReplicas = ["redis_master_link_up", "redis_master_last_io_seconds_ago"];
    const onlyOnMasters = ["redis_connected_slave_offset_bytes", "redis_connected_slave_lag_seconds"];
    for (const node of nodes) {
      const served = new Set((await scrape(node, "redis")).map((s) => s.name));
      const expected = kept(node, "redis").filter((name) => !(node === master ? onlyOnReplicas : onlyOnMasters).includes(name));
      expect({ node: node.name, missing: expected.filter((name) => !served.has(name)) }).toEqual({ node: node.name, missing: [] });
      const sentinel = new Set((await scrape(node, "sentinel")).map((s) => s.name));
      expect({ node: node.name, missing: kept(node, "sentinel").filter((name) => !sentinel.has(name)) }).toEqual({ node: node.name, missing: [] });
    }
  });

  scenario("8. the exporter's port is closed to everyone else, as the security group leaves it", 30_000, async () => {
    const port = Number(/:(\d+)$/.exec(new URL(scrapeUrls(master).redis).host)![1]);
    expect(await probeTcp(topology!, master.name, master.ip, port)).toBe("connected");
    expect(await probeTcp(topology!, ROOT, master.ip, port)).toBe("timeout");
  });
}
