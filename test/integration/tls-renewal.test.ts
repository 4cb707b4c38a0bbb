/**
 * TLS renewal on real redis-server and redis-sentinel processes, one network
 * namespace per node of the synthesized example: each node runs what its
 * redis-tls-renew.service runs (the synthesized tls step with `renew`), which
 * reads the node's key, certificate and CA file from a fake SSM on the
 * bridge that verifies SigV4 signatures, with the boot's own fetch_secret.
 * systemctl is a stand-in that knows which processes run and restarts a
 * sentinel as the harness started it. Needs root; the scenarios run in order
 * and share one topology.
 */
import { createHash, randomBytes, X509Certificate } from "crypto";
import * as fs from "fs";
import { createServer, Server } from "http";
import { AddressInfo } from "net";
import * as path from "path";
import Redis from "ioredis";
import { connect as tlsConnect, ConnectionOptions } from "tls";
import { AWS_SCRIPT_PATH, BUILTIN_USERS, COMMON_SCRIPT_PATH, libraryPathOnNode, NODE_ENV_PATH, SECRET_FETCH_STEP_PATH, TLS_RENEW_UNIT, TLS_STEP_PATH } from "../../lib/boot";
import { FakeAws } from "../support/fake-aws";
import { issueCertificate, makeCa, TestCa } from "../tls-fixtures";
import { connect, info, Login, withClient } from "./harness/client";
import { RunResult, Topology } from "./harness/netns";
import { allLogs, commandOf, isRunning, processOf, stopAll, waitUntil } from "./harness/processes";
import { GroupLayout, GroupNode, layOutGroup, startGroup } from "./synthesized-group";
import { synthesizeBasicExample } from "./synthesized-nodes";
import { describeIntegration, ScenarioRun } from "./harness/suite";

const SUITE = "TLS renewal on the synthesized nodes with the step their redis-tls-renew timer runs";
const generated = () => randomBytes(24).toString("base64").replace(/[^A-Za-z0-9]/g, "").slice(0, 32);
const PASSWORDS: Record<string, string> = Object.fromEntries(Object.values(BUILTIN_USERS).map((user) => [user, generated()]));
PASSWORDS.app = generated();
const login = (username: string): Login => ({ username, password: PASSWORDS[username] });
const REGION = "eu-west-1";
const CREDS = { AccessKeyId: "ASIARENEWALTEST00001", SecretAccessKey: "renewal/Secret+Key/0123456789abcdefghijKL", Token: "IQoJrenewal/session+token==" };
const FILES = ["node.key", "node.crt", "ca.crt"] as const;

describeIntegration(SUITE, ["redis-server", "redis-sentinel", "redis-cli", "ip", "iptables", "curl", "python3", "openssl"], scenarios);

/** SHA-256 fingerprint of the certificate a TLS server presents, verified with `ca` and the address (its IP SAN). */
function servedCertificate(host: string, port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, ca, timeout: 3000 }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on("error", (error) => reject(new Error(`TLS to ${host}:${port}: ${error.message}`)));
    socket.on("timeout", () => {
      socket.destroy();
      reject(new Error(`TLS to ${host}:${port}: no handshake within 3 s`));
    });
  });
}
const fingerprintOf = (pemFile: string) => new X509Certificate(fs.readFileSync(pemFile)).fingerprint256;

/** What a node's processes and links look like; a renewal must leave the data side as it was. */
interface DataState {
  readonly redisPids: string[];
  readonly syncFull: number;
  readonly syncPartial: number;
  readonly links: string[];
}

function scenarios(): void {
  let topology: Topology | undefined;
  let layout: GroupLayout | undefined;
  let nodes: GroupNode[] = [];
  let master: GroupNode;
  let masterName = "";
  let redisPort = 0;
  let sentinelPort = 0;
  let server: Server | undefined;
  let fakeBase = "";
  let groupCa: TestCa;
  // What clients trust: the group's CA, later the bundle of old and new CA.
  let clientCa = "";
  const stored = { ssm: new Map<string, string>(), secretsmanager: new Map<string, string>() };
  // Per node: the parameter names its node.env reads, and the certificate it serves now.
  const parameters = new Map<string, { key: string; certificate: string; ca: string }>();
  const outputs: string[] = [];
  // Scenarios in order; the teardown keeps the logs when one did not finish.
  const progress = new ScenarioRun();
  const { tracked, scenario } = progress;

  const dirsOf = (node: GroupNode) => {
    const root = layout!.workRoot;
    return {
      lib: path.join(root, `${node.name}-lib`),
      env: path.join(root, `${node.name}-node.env`),
      state: path.join(root, `${node.name}-state`),
      run: path.join(root, `${node.name}-run`),
      nodeOps: path.join(root, `${node.name}-node-ops.password`),
      tls: path.join(node.dir, "tls"),
    };
  };
  const scriptEnv = (node: GroupNode): Record<string, string> => ({
    REDIS_NODE_LIB: dirsOf(node).lib,
    REDIS_NODE_ENV: dirsOf(node).env,
    REDIS_NODE_STATE_DIR: dirsOf(node).state,
    REDIS_NODE_RUN_DIR: dirsOf(node).run,
    REDIS_NODE_IMDS_URL: fakeBase,
    REDIS_NODE_AWS_ENDPOINT: `${fakeBase}/aws/`,
    REDIS_NODE_SECRET_RETRY_SECONDS: "1",
    // The systemctl stand-in, and where it finds the node's pid files and the sentinel's command line.
    PATH: `${path.join(layout!.workRoot, "shim")}:${process.env.PATH}`,
    RENEW_NODE_DIR: node.dir,
    NO_PROXY: "*",
    no_proxy: "*",
  });

  /** The store holds these files for the node from now on (as Terraform writes the parameters). */
  function store(node: GroupNode, files: { key?: string; certificate?: string; ca?: string }): void {
    const names = parameters.get(node.name)!;
    if (files.key) stored.ssm.set(names.key, fs.readFileSync(files.key, "utf8"));
    if (files.certificate) stored.ssm.set(names.certificate, fs.readFileSync(files.certificate, "utf8"));
    if (files.ca) stored.ssm.set(names.ca, fs.readFileSync(files.ca, "utf8"));
  }

  /** One run of the node's renewal, as its timer starts redis-tls-renew.service: the service's ExecStart. */
  async function renew(node: GroupNode): Promise<RunResult> {
    const step = path.join(dirsOf(node).lib, "parts", path.basename(TLS_STEP_PATH));
    const result = await topology!.exec(node.name, ["bash", step, "renew"], { env: scriptEnv(node), allowFailure: true, timeoutMs: 150_000 });
    outputs.push(`${node.name} renew (exit ${result.code}):\n${result.stdout}${result.stderr}`);
    return result;
  }
  const systemctlCalls = (node: GroupNode) => {
    const log = path.join(node.dir, "systemctl.log");
    return fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  };
  const sentinelPid = (node: GroupNode) => Number(fs.readFileSync(path.join(node.dir, "sentinel.pid"), "utf8").trim());
  const filesOf = (node: GroupNode) => FILES.map((f) => fs.readFileSync(path.join(dirsOf(node).tls, f), "utf8"));
  const tls = (): ConnectionOptions => ({ ca: clientCa });

  const admin = (node: GroupNode, port: number, fn: (c: Redis) => Promise<unknown>) =>
    withClient(node.ip, port, login("admin"), fn, { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls: tls() });

  async function dataState(): Promise<DataState> {
    const stats = (await admin(master, redisPort, (c) => info(c, "stats"))) as Record<string, string>;
    const links: string[] = [];
    for (const node of nodes) {
      if (node === master) continue;
      const r = (await admin(node, redisPort, (c) => info(c, "replication"))) as Record<string, string>;
      links.push(`${node.name} ${r.master_host} ${r.master_link_status}`);
    }
    const redisPids = nodes.map((n) => `${n.name} ${processOf(n.name, "redis")?.pid} ${isRunning(n.name, "redis") ? "running" : "gone"}`);
    return { redisPids, syncFull: Number(stats.sync_full), syncPartial: Number(stats.sync_partial_ok), links };
  }

  /** Both replicas in sync with the master; every sentinel: that master with 2 replicas and 2 other sentinels, and a reachable quorum. */
  async function healthy(): Promise<true> {
    const online = ((await admin(master, redisPort, (c) => c.info("replication"))) as string).match(/^slave\d+:.*state=online/gm) ?? [];
    if (online.length !== 2) throw new Error(`the master has ${online.length} replicas online`);
    for (const node of nodes) {
      const flat = (await admin(node, sentinelPort, (c) => c.call("SENTINEL", "MASTER", masterName))) as string[];
      const m = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
      const summary = `${node.name}: ${m.ip} ${m.flags} slaves ${m["num-slaves"]} sentinels ${m["num-other-sentinels"]}`;
      if (m.ip !== master.ip || m.flags !== "master" || m["num-slaves"] !== "2" || m["num-other-sentinels"] !== "2") throw new Error(summary);
      const quorum = (await admin(node, sentinelPort, (c) => c.call("SENTINEL", "CKQUORUM", masterName))) as string;
      if (!/^OK /.test(quorum)) throw new Error(`${node.name}: ${quorum}`);
    }
    return true;
  }

  /** Per node: the fingerprints it presents on the Redis and the Sentinel port, to a client trusting `ca`. */
  const served = (ca: string) =>
    Promise.all(nodes.map(async (n) => `${n.name} ${await servedCertificate(n.ip, redisPort, ca)} ${await servedCertificate(n.ip, sentinelPort, ca)}`));
  const servingFiles = (certificates: Record<string, string>) => nodes.map((n) => `${n.name} ${fingerprintOf(certificates[n.name])} ${fingerprintOf(certificates[n.name])}`);

  /**
   * Runs the renewal on each node in turn (the timers' random delays keep
   * them apart) with an application connection to the master held open
   * throughout; checks after it that the held connection still works, every
   * redis-server kept its pid, the replicas kept their links without a full
   * resync, the group is healthy. Returns each node's run.
   */
  async function renewEverywhere(): Promise<RunResult[]> {
    const held = await connect(master.ip, redisPort, login("app"), { tls: tls() });
    try {
      const before = await dataState();
      const heldId = await held.client("ID");
      const results: RunResult[] = [];
      for (const node of nodes) {
        results.push(await renew(node));
        expect(await held.set(`renewal:${node.name}`, "written")).toBe("OK");
      }
      expect(results.map((r, i) => `${nodes[i].name} ${r.code}`)).toEqual(nodes.map((n) => `${n.name} 0`));
      expect(await held.client("ID")).toBe(heldId);
      expect(await held.get(`renewal:${nodes[0].name}`)).toBe("written");
      await waitUntil(healthy, { timeoutMs: 20_000, intervalMs: 250, what: "a healthy group after the renewal" });
      const after = await dataState();
      expect(after).toEqual({ ...before, syncPartial: after.syncPartial });
      return results;
    } finally {
      held.disconnect();
    }
  }

  beforeAll(tracked(async () => {
    const example = synthesizeBasicExample();
    for (const name of Object.values(example.parameterNames)) {
      const user = /\/users\/([^/]+)\/password$/.exec(name)?.[1];
      if (!user) continue;
      if (!PASSWORDS[user]) throw new Error(`no test password for user ${user}`);
      stored.ssm.set(name, PASSWORDS[user]);
      stored.ssm.set(`${name}-sha256`, createHash("sha256").update(PASSWORDS[user]).digest("hex"));
    }
    layout = await layOutGroup(example);
    topology = layout.topology;
    nodes = layout.nodes;

    const aws = new FakeAws({ region: REGION, role: "redis-node-role", creds: CREDS, stored, apiPath: "/aws/" });
    server = createServer(aws.listener());
    await new Promise<void>((ok) => server!.listen(0, topology!.clientAddress, ok));
    fakeBase = `http://${topology.clientAddress}:${(server.address() as AddressInfo).port}`;

    // systemd's part: which units run (their pid files), and a restart of the sentinel as the harness started it.
    const shim = path.join(layout.workRoot, "shim");
    fs.mkdirSync(shim);
    fs.writeFileSync(
      path.join(shim, "systemctl"),
      [
        "#!/bin/bash",
        'dir=${RENEW_NODE_DIR:?}',
        'echo "$*" >>"$dir/systemctl.log"',
        'alive() { local pid; pid=$(cat "$dir/$1.pid" 2>/dev/null) && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; }',
        'case "$*" in',
        '  "is-active --quiet redis-server.service") alive redis ;;',
        '  "is-active --quiet redis-sentinel.service") alive sentinel ;;',
        '  "restart redis-sentinel.service")',
        "    if alive sentinel; then",
        '      pid=$(cat "$dir/sentinel.pid")',
        '      kill -TERM "$pid"',
        '      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done',
        '      ! kill -0 "$pid" 2>/dev/null || exit 1',
        "    fi",
        '    mapfile -d "" argv <"$dir/sentinel.argv"',
        '    "${argv[@]}" --daemonize yes </dev/null >/dev/null 2>&1',
        "    ;;",
        "  *) exit 1 ;;",
        "esac",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );

    const group = await startGroup(layout, async (node, secretsList) => {
      // The node's boot files as cloud-init writes them, paths pointed into the run's directory.
      const dirs = dirsOf(node);
      fs.mkdirSync(path.join(dirs.lib, "parts"), { recursive: true });
      fs.mkdirSync(dirs.state);
      for (const [name, source] of [["common.sh", COMMON_SCRIPT_PATH], ["aws.sh", AWS_SCRIPT_PATH], ["redis.sh", libraryPathOnNode("redis.sh")]]) {
        fs.writeFileSync(path.join(dirs.lib, name), layout!.fileOf(node, source));
      }
      const secretFetch = path.join(dirs.lib, "parts", path.basename(SECRET_FETCH_STEP_PATH));
      fs.writeFileSync(secretFetch, layout!.fileOf(node, SECRET_FETCH_STEP_PATH), { mode: 0o755 });
      fs.writeFileSync(path.join(dirs.lib, "parts", path.basename(TLS_STEP_PATH)), layout!.fileOf(node, TLS_STEP_PATH), { mode: 0o755 });
      const overrides = { SECRETS_LIST: secretsList, SECRET_FETCH_STEP: secretFetch, NODE_OPS_PASSWORD_FILE: dirs.nodeOps, TLS_DIR: dirs.tls };
      const env = layout!.fileOf(node, NODE_ENV_PATH) + Object.entries(overrides).map(([k, v]) => `${k}='${v}'\n`).join("");
      fs.writeFileSync(dirs.env, env, { mode: 0o600 });
      const setting = (name: string) => new RegExp(`^${name}='([^']+)'$`, "m").exec(env)?.[1] ?? "";
      parameters.set(node.name, { key: setting("TLS_KEY_ID"), certificate: setting("TLS_CERT_ID"), ca: setting("TLS_CA_ID") });
      if (setting("TLS_NODE_ADDRESS") !== node.ip) throw new Error(`${node.name}: TLS_NODE_ADDRESS is '${setting("TLS_NODE_ADDRESS")}', not ${node.ip}`);
      await topology!.exec(node.name, ["bash", secretFetch, "prepare"], { env: { ...scriptEnv(node), REDIS_NODE_SECRETS_DIR: node.secretsDir }, timeoutMs: 60_000 });
    });
    ({ masterName, redisPort, sentinelPort } = group);
    clientCa = group.tls.ca as string;
    master = group.initialMaster;
    // The CA and the certificates the harness made, as the nodes got them at boot (owned by redis, as the boot's tls step leaves them).
    groupCa = { dir: path.join(layout.workRoot, "pki"), name: "group-ca", certificate: path.join(layout.workRoot, "pki", "group-ca.crt"), key: path.join(layout.workRoot, "pki", "group-ca.key"), pem: clientCa };
    for (const node of nodes) {
      const tlsDir = dirsOf(node).tls;
      store(node, { key: path.join(tlsDir, "node.key"), certificate: path.join(tlsDir, "node.crt"), ca: path.join(tlsDir, "ca.crt") });
      await topology.exec(node.name, ["chown", "-R", "redis:redis", tlsDir]);
      fs.chmodSync(tlsDir, 0o750);
      fs.chmodSync(path.join(tlsDir, "node.key"), 0o600);
      for (const f of ["node.crt", "ca.crt"]) fs.chmodSync(path.join(tlsDir, f), 0o644);
      fs.writeFileSync(path.join(node.dir, "sentinel.argv"), commandOf(node.name, "sentinel").map((a) => `${a}\0`).join(""));
      // The boot finished on this node: the renewal may run.
      fs.writeFileSync(path.join(dirsOf(node).state, "setup-done"), "");
    }
    await waitUntil(healthy, { timeoutMs: 40_000, intervalMs: 250, what: "a master with 2 online replicas, seen by 3 sentinels with a quorum" });
  }), 240_000);

  afterAll(async () => {
    try {
      if (progress.failed) console.error(`logs of the failed renewal run (kept in ${layout?.workRoot}):\n${allLogs(60)}\n${outputs.join("\n")}`);
    } finally {
      try {
        await stopAll();
      } finally {
        try {
          server?.closeAllConnections();
          await new Promise((done) => (server ? server.close(done) : done(undefined)));
        } finally {
          await topology?.destroy();
        }
      }
    }
    if (!progress.failed && layout) fs.rmSync(layout.workRoot, { recursive: true, force: true });
  }, 60_000);

  scenario("0. the renewal the nodes run is the synthesized service's: the tls step with renew", 10_000, async () => {
    for (const node of nodes) {
      const service = layout!.fileOf(node, `/etc/systemd/system/${TLS_RENEW_UNIT}.service`);
      expect(service).toContain(`\nExecStart=${TLS_STEP_PATH} renew\n`);
    }
  });

  scenario("1. nothing renewed: each node says so, nothing is reloaded or restarted", 120_000, async () => {
    const before = { files: nodes.map(filesOf), sentinels: nodes.map(sentinelPid) };
    const results = await Promise.all(nodes.map(renew));
    for (const r of results) expect({ code: r.code, said: r.stderr.trim() }).toEqual({ code: 0, said: "tls-renew: key and certificates unchanged" });
    expect({ files: nodes.map(filesOf), sentinels: nodes.map(sentinelPid) }).toEqual(before);
    for (const node of nodes) expect(systemctlCalls(node)).toEqual([]);
  });

  scenario("2. renewed certificates: served on new connections without a redis-server restart; open connections and replication links survive; the sentinels restart", 240_000, async () => {
    const pki = path.join(layout!.workRoot, "pki");
    const renewed: Record<string, string> = {};
    for (const node of nodes) {
      // Terraform's early renewal: a new certificate for the same key.
      renewed[node.name] = issueCertificate(groupCa, `${node.name}-renewed`, [node.ip], { key: path.join(pki, `${node.name}.key`), commonName: node.name }).certificate;
    }
    const booted = Object.fromEntries(nodes.map((n) => [n.name, path.join(pki, `${n.name}.crt`)]));
    expect(await served(clientCa)).toEqual(servingFiles(booted));
    const sentinelsBefore = nodes.map(sentinelPid);
    const sentinelClient = await connect(master.ip, sentinelPort, login(BUILTIN_USERS.sentinelClient), { tls: tls(), readyCheck: false });
    try {
      for (const node of nodes) store(node, { certificate: renewed[node.name] });
      const results = await renewEverywhere();
      for (const r of results) {
        expect(r.stderr).toMatch(/^tls-renew: installed node\.crt in \S+: certificate serial=[0-9A-F]+ notAfter=/m);
        expect(r.stderr).toContain("tls-renew: redis-server reloaded its TLS files (CONFIG SET, no restart)\n");
        expect(r.stderr).toContain("tls-renew: redis-sentinel restarted with the new TLS files (Sentinel cannot reload them at runtime)\n");
      }
      expect(await served(clientCa)).toEqual(servingFiles(renewed));
      // A sentinel restarts: its new pid; a connection to it is closed, and clients connect again.
      expect(nodes.map(sentinelPid).map((pid, i) => pid !== sentinelsBefore[i])).toEqual([true, true, true]);
      await expect(sentinelClient.ping()).rejects.toThrow();
      expect(await withClient(master.ip, sentinelPort, login(BUILTIN_USERS.sentinelClient), (c) => c.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName), { tls: tls(), readyCheck: false })).toEqual([master.ip, String(redisPort)]);
      for (const node of nodes) {
        expect(systemctlCalls(node)).toEqual(["is-active --quiet redis-server.service", "is-active --quiet redis-sentinel.service", "restart redis-sentinel.service"]);
        const modes = FILES.map((f) => (fs.statSync(path.join(dirsOf(node).tls, f)).mode & 0o777).toString(8));
        expect(modes).toEqual(["600", "644", "644"]);
        expect(fs.readdirSync(dirsOf(node).tls).sort()).toEqual(["ca.crt", "node.crt", "node.key"]);
      }
    } finally {
      sentinelClient.disconnect();
    }
  });

  scenario("3. a renewal with a key that is not the certificate's: refused, the node keeps its files and serves its certificate", 120_000, async () => {
    const node = nodes.find((n) => n !== master)!;
    const other = nodes.find((n) => n !== node)!;
    const before = { files: filesOf(node), served: await served(clientCa), calls: systemctlCalls(node).length, sentinel: sentinelPid(node), state: await dataState() };
    const pki = path.join(layout!.workRoot, "pki");
    // Another node's key beside this node's certificate: the parameters of a botched re-issue.
    const certificate = issueCertificate(groupCa, `${node.name}-botched`, [node.ip], { key: path.join(pki, `${node.name}.key`), commonName: node.name }).certificate;
    store(node, { key: path.join(pki, `${other.name}.key`), certificate });
    try {
      const r = await renew(node);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`tls-renew: ERROR: the key in ${parameters.get(node.name)!.key} is not the key of the certificate in ${parameters.get(node.name)!.certificate}\n`);
      expect(r.stderr).toContain("tls-renew: ERROR: the new files were refused; the current ones stay in place\n");
      expect({ files: filesOf(node), served: await served(clientCa), calls: systemctlCalls(node).length, sentinel: sentinelPid(node), state: await dataState() }).toEqual(before);
    } finally {
      // The store back as the node holds it, for the next scenario.
      store(node, { key: path.join(dirsOf(node).tls, "node.key"), certificate: path.join(dirsOf(node).tls, "node.crt") });
    }
    expect((await renew(node)).stderr.trim()).toBe("tls-renew: key and certificates unchanged");
  });

  scenario("4. CA rollover: the bundle of old and new CA, then certificates of the new CA, then the old CA retired; the group stays healthy throughout", 360_000, async () => {
    const pki = path.join(layout!.workRoot, "pki");
    const nextCa = makeCa(pki, "next-ca");
    const bundle = path.join(pki, "bundle.crt");
    fs.writeFileSync(bundle, groupCa.pem + nextCa.pem);
    const servedBefore = await served(clientCa);

    // 1: every node trusts both CAs; clients get the bundle too. The certificates stay.
    for (const node of nodes) store(node, { ca: bundle });
    for (const r of await renewEverywhere()) expect(r.stderr).toMatch(/^tls-renew: installed ca\.crt in /m);
    clientCa = groupCa.pem + nextCa.pem;
    expect(await served(clientCa)).toEqual(servedBefore);

    // 2: certificates of the new CA; the nodes verify each other with the bundle, also while some still present the old ones.
    const underNext: Record<string, string> = {};
    for (const node of nodes) {
      underNext[node.name] = issueCertificate(nextCa, `${node.name}-next`, [node.ip], { key: path.join(pki, `${node.name}.key`), commonName: node.name }).certificate;
      store(node, { certificate: underNext[node.name] });
    }
    for (const r of await renewEverywhere()) expect(r.stderr).toMatch(/^tls-renew: installed node\.crt in /m);
    expect(await served(clientCa)).toEqual(servingFiles(underNext));
    // A client that still trusts only the old CA is refused now.
    await expect(servedCertificate(master.ip, redisPort, groupCa.pem)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);

    // 3: the old CA retired.
    for (const node of nodes) store(node, { ca: nextCa.certificate });
    for (const r of await renewEverywhere()) expect(r.stderr).toMatch(/^tls-renew: installed ca\.crt in /m);
    clientCa = nextCa.pem;
    expect(await served(clientCa)).toEqual(servingFiles(underNext));
    for (const node of nodes) expect(filesOf(node)[2]).toBe(nextCa.pem);
  });

  scenario("5. no sentinel saw the master or a replica down, nor started a failover, all along", 30_000, async () => {
    const logOf = (node: GroupNode) => fs.readFileSync(processOf(node.name, "sentinel")!.logFile, "utf8");
    const events = nodes.flatMap((n) =>
      logOf(n).split("\n").filter((l) => /[+-](odown|try-failover|switch-master|failover-abort)|\+sdown (master|slave)/.test(l)).map((l) => `${n.name}: ${l}`),
    );
    expect(events).toEqual([]);
    // Each sentinel started once and restarted at each of the four renewals that changed its files.
    expect(nodes.map((n) => (logOf(n).match(/Sentinel ID is/g) ?? []).length)).toEqual([5, 5, 5]);
  });
}
