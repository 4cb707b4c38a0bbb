/**
 * Password rotation on real redis-server and redis-sentinel processes, one
 * network namespace per node of the synthesized example, with the script of
 * the synthesized SSM document (its parameters put in as SSM does), run in
 * every node's namespace at once as `aws ssm send-command` runs it. The
 * nodes booted with the boot's own secret-fetch step (which made their
 * node-ops passwords), and read the new passwords from a fake SSM on the
 * bridge that verifies their SigV4 signatures. Needs root; the scenarios run
 * in order and share one topology.
 */
import { execFileSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import { createServer, Server } from "http";
import { AddressInfo } from "net";
import * as path from "path";
import Redis from "ioredis";
import { ConnectionOptions } from "tls";
import { AWS_SCRIPT_PATH, BUILTIN_USERS, COMMON_SCRIPT_PATH, libraryPathOnNode, METRICS_STEP_PATH, NODE_ENV_PATH, ROTATION_STEPS, SECRET_FETCH_STEP_PATH } from "../../lib/boot";
import { FakeAws } from "../support/fake-aws";
import { connect, info, Login, withClient } from "./harness/client";
import { RunResult, sleep, Topology } from "./harness/netns";
import { allLogs, processOf, restart, stop, stopAll, waitUntil } from "./harness/processes";
import { GroupLayout, GroupNode, layOutGroup, startGroup } from "./synthesized-group";
import { synthesizeBasicExample } from "./synthesized-nodes";
import { describeIntegration, ScenarioRun } from "./harness/suite";

const SUITE = "Password rotation on the synthesized nodes with the script of the synthesized SSM document";
const generated = () => randomBytes(24).toString("base64").replace(/[^A-Za-z0-9]/g, "").slice(0, 32);
// The users' current passwords, as the secret store holds them; a rotation replaces one.
// The example's sentinels run on its data nodes: node-handover (dedicated sentinels only) is not made.
const PASSWORDS: Record<string, string> = Object.fromEntries(
  Object.values(BUILTIN_USERS).filter((user) => user !== BUILTIN_USERS.nodeHandover).map((user) => [user, generated()]),
);
PASSWORDS.app = `rot pw "q" \\ #h ${randomBytes(4).toString("hex")}`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const login = (username: string): Login => ({ username, password: PASSWORDS[username] });
// What the sentinels check with their ACL; the data nodes check the others.
const SENTINEL_SIDE = new Set<string>([BUILTIN_USERS.sentinelPeer, BUILTIN_USERS.sentinelClient]);
const REGION = "eu-west-1";
const CREDS = { AccessKeyId: "ASIAROTATIONTEST0001", SecretAccessKey: "rotation/Secret+Key/0123456789abcdefghijKL", Token: "IQoJrotation/session+token==" };

describeIntegration(SUITE, ["redis-server", "redis-sentinel", "redis-cli", "ip", "iptables", "curl", "python3"], scenarios);

/** What a node's processes and links look like; a rotation must leave it as it was. */
interface GroupState {
  readonly pids: string[];
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
  let tls: ConnectionOptions | undefined;
  let server: Server | undefined;
  // The script as the document holds it, {{ Step }} and {{ User }} still in.
  let documentScript = "";
  // Parameter name of each user's password; "<name>-sha256" holds its hash.
  const parameterOf: Record<string, string> = {};
  const stored = { ssm: new Map<string, string>(), secretsmanager: new Map<string, string>() };
  // Every step's output, and every redis-cli argv (logged by a shim): no secret may show in either.
  const outputs: string[] = [];
  let argvLog = "";
  const everyPassword = new Set<string>(Object.values(PASSWORDS));
  // Scenarios in order; the teardown keeps the logs when one did not finish.
  const progress = new ScenarioRun();
  const { tracked, scenario } = progress;

  /** Where each node's boot files and state live (its namespace sees the host's file system). */
  const dirsOf = (node: GroupNode) => {
    const root = layout!.workRoot;
    return {
      lib: path.join(root, `${node.name}-lib`),
      env: path.join(root, `${node.name}-node.env`),
      state: path.join(root, `${node.name}-state`),
      run: path.join(root, `${node.name}-run`),
      nodeOps: path.join(root, `${node.name}-node-ops.password`),
      // The exporter's password file, and what the systemctl shim was asked (with that file's SHA-256 then).
      exporterPasswords: path.join(root, `${node.name}-state`, "exporter-passwords.json"),
      systemctlLog: path.join(root, `${node.name}-state`, "systemctl.log"),
    };
  };
  /** A variable of the node's synthesized node.env. */
  const envOf = (node: GroupNode, name: string) => {
    const line = layout!.fileOf(node, NODE_ENV_PATH).split("\n").find((l) => l.startsWith(`${name}=`));
    if (line === undefined) throw new Error(`${node.name}'s node.env has no ${name}`);
    return line.slice(name.length + 1).replace(/^'|'$/g, "");
  };
  let fakeBase = "";
  const scriptEnv = (node: GroupNode): Record<string, string> => ({
    REDIS_NODE_LIB: dirsOf(node).lib,
    REDIS_NODE_ENV: dirsOf(node).env,
    REDIS_NODE_STATE_DIR: dirsOf(node).state,
    REDIS_NODE_RUN_DIR: dirsOf(node).run,
    REDIS_NODE_IMDS_URL: fakeBase,
    REDIS_NODE_AWS_ENDPOINT: `${fakeBase}/aws/`,
    REDIS_NODE_SECRET_RETRY_SECONDS: "1",
    PATH: `${path.join(layout!.workRoot, "shim")}:${process.env.PATH}`,
    NO_PROXY: "*",
    no_proxy: "*",
  });

  const admin = (node: GroupNode, port: number, fn: (c: Redis) => Promise<unknown>) =>
    withClient(node.ip, port, login("admin"), fn, { connectTimeoutMs: 1000, commandTimeoutMs: 2000, tls });
  const portOf = (user: string) => (SENTINEL_SIDE.has(user) ? sentinelPort : redisPort);

  /** Sets a user's new password in the fake store, as the operator's put-parameter does. */
  function store(user: string, password: string): void {
    stored.ssm.set(parameterOf[user], password);
    stored.ssm.set(`${parameterOf[user]}-sha256`, sha256(password));
    everyPassword.add(password);
  }

  /** Runs one step of the document for `user` on every node at once, as send-command does. */
  async function step(name: (typeof ROTATION_STEPS)[number], user: string): Promise<Array<RunResult & { node: string }>> {
    // SSM puts the parameters into the text, writes it to a file and runs `sh -c <file>`.
    const file = path.join(layout!.workRoot, `rotate-${name}-${user}.sh`);
    fs.writeFileSync(file, documentScript.split("{{ Step }}").join(name).split("{{ User }}").join(user), { mode: 0o700 });
    const results = await Promise.all(
      nodes.map(async (node) => ({
        node: node.name,
        ...(await topology!.exec(node.name, ["sh", "-c", file], { env: scriptEnv(node), allowFailure: true, timeoutMs: 90_000 })),
      })),
    );
    for (const r of results) outputs.push(`${r.node} ${name} ${user}:\n${r.stdout}${r.stderr}`);
    return results;
  }
  const succeeded = (results: Array<RunResult & { node: string }>) =>
    results.map((r) => ({ node: r.node, code: r.code, ...(r.code !== 0 ? { output: `${r.stdout}${r.stderr}` } : {}) }));
  const allZero = (results: Array<RunResult & { node: string }>) => results.map((r) => ({ node: r.node, code: 0 }));

  /** Per node: "ok", or the first word of the refusal, for a fresh login as `user`. */
  async function logins(user: string, password: string): Promise<string[]> {
    return Promise.all(
      nodes.map(async (node) => {
        const result = await withClient(node.ip, portOf(user), { username: user, password }, (c) => c.ping(), { tls, connectTimeoutMs: 1000, readyCheck: false }).then(
          () => "ok",
          (e: Error) => (/WRONGPASS/.test(e.message) ? "WRONGPASS" : e.message),
        );
        return `${node.name} ${result}`;
      }),
    );
  }
  const each = (result: string) => nodes.map((n) => `${n.name} ${result}`);

  async function state(): Promise<GroupState> {
    const stats = (await admin(master, redisPort, (c) => info(c, "stats"))) as Record<string, string>;
    const links: string[] = [];
    for (const node of nodes) {
      if (node === master) continue;
      const r = (await admin(node, redisPort, (c) => info(c, "replication"))) as Record<string, string>;
      links.push(`${node.name} ${r.master_host} ${r.master_link_status}`);
    }
    const pids = nodes.flatMap((n) => (["redis", "sentinel"] as const).map((role) => `${n.name}/${role} ${processOf(n.name, role)?.pid}`));
    return { pids, syncFull: Number(stats.sync_full), syncPartial: Number(stats.sync_partial_ok), links };
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

  /**
   * Waits until every process of `owners` (on `port`) holds a connection of
   * `user` from each address in `from`: those clients logged in again.
   */
  async function connectedFrom(user: string, port: number, from: (n: GroupNode) => string[]): Promise<void> {
    await waitUntil(
      async () => {
        for (const node of nodes) {
          const list = (await admin(node, port, (c) => c.call("CLIENT", "LIST"))) as string;
          const addresses = list.split("\n").filter((l) => new RegExp(` user=${user} `).test(l)).map((l) => /addr=([\d.]+):/.exec(l)![1]);
          const absent = from(node).filter((ip) => !addresses.includes(ip));
          if (absent.length > 0) throw new Error(`${node.name}:${port} has no ${user} connection from ${absent.join(", ")}`);
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: `every ${user} client to log in again` },
    );
  }

  /** The users.acl or sentinel.conf user line of `user` on a node, its hashes only. */
  function hashesInFile(node: GroupNode, user: string): string[] {
    const file = SENTINEL_SIDE.has(user) ? processOf(node.name, "sentinel")!.confFile : path.join(node.dir, "users.acl");
    const line = fs.readFileSync(file, "utf8").split("\n").find((l) => l.startsWith(`user ${user} `));
    return (line ?? "").split(" ").filter((w) => /^#[0-9a-f]{64}$/.test(w)).map((w) => w.slice(1));
  }

  /**
   * The whole rotation of `user`: the new password into the store, then add,
   * switch and retire on every node. A connection opened with the old
   * password before it keeps working throughout; after add both passwords
   * log in, after retire only the new one; no process restarts, the
   * replicas' links stay up without a full resync, Sentinel's quorum holds.
   * `between` runs extra checks after each step.
   */
  async function rotate(user: string, between: (after: string, oldPassword: string, newPassword: string) => Promise<void> = async () => undefined): Promise<string[]> {
    const oldPassword = PASSWORDS[user];
    const newPassword = generated();
    const held = await connect(master.ip, portOf(user), { username: user, password: oldPassword }, { tls, readyCheck: false });
    const stepOutput: string[] = [];
    try {
      const before = await state();
      const stillWorking = async (after: string) => {
        expect({ after, ping: await held.ping() }).toEqual({ after, ping: "PONG" });
        expect({ after, ...(await state()) }).toEqual({ after, ...before });
        await waitUntil(healthy, { timeoutMs: 10_000, what: `a healthy group after ${after}` });
      };
      store(user, newPassword);
      await between("put", oldPassword, newPassword);
      for (const name of ROTATION_STEPS) {
        const results = await step(name, user);
        stepOutput.push(...results.map((r) => `${r.node} ${name}: ${r.stdout.trim()}`));
        expect(succeeded(results)).toEqual(allZero(results));
        await stillWorking(name);
        if (name === "add") {
          expect(await logins(user, oldPassword)).toEqual(each("ok"));
          expect(await logins(user, newPassword)).toEqual(each("ok"));
        }
        await between(name, oldPassword, newPassword);
      }
      expect(await logins(user, oldPassword)).toEqual(each("WRONGPASS"));
      expect(await logins(user, newPassword)).toEqual(each("ok"));
      // The saved files hold the new hash only.
      expect(nodes.map((n) => `${n.name} ${hashesInFile(n, user).join(" ")}`)).toEqual(each(sha256(newPassword)));
      expect(await held.ping()).toBe("PONG");
      PASSWORDS[user] = newPassword;
      console.log(`rotated ${user}; what the steps said:\n  ${stepOutput.join("\n  ").replace(/\n(?! {2})/g, "\n    ")}`);
      return stepOutput;
    } finally {
      held.disconnect();
    }
  }

  beforeAll(tracked(async () => {
    // With monitoring: each node's exporter logs in as monitor, whose rotation rewrites its password file.
    const example = synthesizeBasicExample({ monitoring: { enabled: true } });
    const documents = Object.values(example.ssmDocuments);
    expect(documents).toHaveLength(1);
    documentScript = (JSON.parse(documents[0]).mainSteps[0].inputs.runCommand as string[]).join("\n");
    for (const name of Object.values(example.parameterNames)) {
      const user = /\/users\/([^/]+)\/password$/.exec(name)?.[1];
      if (user) parameterOf[user] = name;
    }
    for (const [user, password] of Object.entries(PASSWORDS)) {
      if (!parameterOf[user]) throw new Error(`the example has no password parameter for ${user}`);
      store(user, password);
    }
    layout = await layOutGroup(example);
    topology = layout.topology;
    nodes = layout.nodes;

    // Fake IMDSv2 and SSM on the bridge: the namespaces reach the root namespace's address on it.
    const aws = new FakeAws({ region: REGION, role: "redis-node-role", creds: CREDS, stored, apiPath: "/aws/" });
    server = createServer(aws.listener());
    await new Promise<void>((ok) => server!.listen(0, topology!.clientAddress, ok));
    fakeBase = `http://${topology.clientAddress}:${(server.address() as AddressInfo).port}`;
    // A redis-cli first on the scripts' PATH that logs its argv, then runs the real one.
    const shim = path.join(layout.workRoot, "shim");
    argvLog = path.join(layout.workRoot, "redis-cli-argv.log");
    fs.mkdirSync(shim);
    const realCli = execFileSync("sh", ["-c", "command -v redis-cli"], { encoding: "utf8" }).trim();
    fs.writeFileSync(path.join(shim, "redis-cli"), `#!/bin/bash\nprintf '%s\\0' "$@" >>"${argvLog}"; echo >>"${argvLog}"\nexec ${realCli} "$@"\n`, { mode: 0o755 });
    // No systemd here: a systemctl that notes what it was asked, with the SHA-256 of the exporter's password file at that moment.
    fs.writeFileSync(path.join(shim, "systemctl"), '#!/bin/bash\nsource "$REDIS_NODE_ENV"\n' +
      'printf \'%s %s\\n\' "$*" "$(sha256sum <"$EXPORTER_PASSWORDS" | cut -c1-64)" >>"$REDIS_NODE_STATE_DIR/systemctl.log"\n', { mode: 0o755 });

    const group = await startGroup(layout, async (node, secretsList) => {
      // The node's boot files as cloud-init writes them, paths pointed into the run's directory.
      const dirs = dirsOf(node);
      fs.mkdirSync(path.join(dirs.lib, "parts"), { recursive: true });
      for (const [name, source] of [["common.sh", COMMON_SCRIPT_PATH], ["aws.sh", AWS_SCRIPT_PATH], ["redis.sh", libraryPathOnNode("redis.sh")]]) {
        fs.writeFileSync(path.join(dirs.lib, name), layout!.fileOf(node, source));
      }
      const secretFetch = path.join(dirs.lib, "parts", path.basename(SECRET_FETCH_STEP_PATH));
      fs.writeFileSync(secretFetch, layout!.fileOf(node, SECRET_FETCH_STEP_PATH), { mode: 0o755 });
      const metrics = path.join(dirs.lib, "parts", path.basename(METRICS_STEP_PATH));
      fs.writeFileSync(metrics, layout!.fileOf(node, METRICS_STEP_PATH), { mode: 0o755 });
      fs.mkdirSync(dirs.state, { recursive: true });
      const overrides = { SECRETS_LIST: secretsList, SECRET_FETCH_STEP: secretFetch, NODE_OPS_PASSWORD_FILE: dirs.nodeOps, TLS_DIR: path.join(node.dir, "tls"),
        METRICS_STEP: metrics, EXPORTER_PASSWORDS: dirs.exporterPasswords };
      const env = layout!.fileOf(node, NODE_ENV_PATH) + Object.entries(overrides).map(([k, v]) => `${k}='${v}'\n`).join("");
      fs.writeFileSync(dirs.env, env, { mode: 0o600 });
      // The boot's own secret fetch, in the node's namespace: every secret of secrets.list, and node-ops' password.
      await topology!.exec(node.name, ["bash", secretFetch, "prepare"], {
        env: { ...scriptEnv(node), REDIS_NODE_SECRETS_DIR: node.secretsDir },
        timeoutMs: 60_000,
      });
    });
    ({ masterName, redisPort, sentinelPort, tls } = group);
    master = group.initialMaster;
    for (const node of nodes) everyPassword.add(fs.readFileSync(dirsOf(node).nodeOps, "utf8"));
    await waitUntil(healthy, { timeoutMs: 40_000, intervalMs: 250, what: "a master with 2 online replicas, seen by 3 sentinels with a quorum" });
    // Each node's boot fetches 8 secrets (5 curl calls and 3 python3 runs each): tens of seconds on a loaded machine.
  }), 240_000);

  afterAll(async () => {
    try {
      if (progress.failed) console.error(`logs of the failed rotation run (kept in ${layout?.workRoot}):\n${allLogs(60)}\n${outputs.join("\n")}`);
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

  scenario("0. the boot made each node its own node-ops password (root only), whose hash is in the ACL file and sentinel.conf", 30_000, async () => {
    const secrets = nodes.map((n) => fs.readFileSync(dirsOf(n).nodeOps, "utf8"));
    expect(secrets.map((s) => /^[0-9a-f]{64}$/.test(s))).toEqual([true, true, true]);
    expect(new Set(secrets).size).toBe(3);
    expect(nodes.map((n) => (fs.statSync(dirsOf(n).nodeOps).mode & 0o777).toString(8))).toEqual(["600", "600", "600"]);
    for (const [i, node] of nodes.entries()) {
      for (const port of [redisPort, sentinelPort]) {
        const ok = await withClient(node.ip, port, { username: "node-ops", password: secrets[i] }, (c) => c.ping(), { tls, readyCheck: false });
        expect({ node: node.name, port, ok }).toEqual({ node: node.name, port, ok: "PONG" });
      }
    }
    // One node's node-ops password opens no other node.
    const other = await withClient(nodes[1].ip, redisPort, { username: "node-ops", password: secrets[0] }, (c) => c.ping(), { tls, readyCheck: false }).catch((e: Error) => e.message);
    expect(other).toMatch(/WRONGPASS/);
  });

  scenario("1. the app user: add, clients move, retire; an open connection keeps working; nothing restarts", 120_000, async () => {
    // Forgotten put: the store still holds the current password (here its hash, which the data nodes read).
    const unchanged = await step("add", "app");
    expect(unchanged.map((r) => r.code)).toEqual([1, 1, 1]);
    for (const r of unchanged) expect(r.stderr).toContain("the secret store still holds the password redis-server accepts for app: write the new password");
    // The held connection also writes and reads: it is the application's.
    const app = await connect(master.ip, redisPort, login("app"), { tls });
    try {
      const said = await rotate("app", async (after) => {
        if (after === "put") {
          // Retiring before adding would lock the clients out: refused.
          const early = await step("retire", "app");
          expect(early.map((r) => r.code)).toEqual([1, 1, 1]);
          for (const r of early) expect(r.stderr).toContain("redis-server does not accept the new password of app yet: run the add step on every node first; nothing was retired");
        }
        expect(await app.set(`rot:${after}`, after)).toBe("OK");
        expect(await app.get(`rot:${after}`)).toBe(after);
      });
      expect(said.filter((line) => / switch: /.test(line)).every((line) => /the nodes never log in as app: its clients move/.test(line))).toBe(true);
      // A user of the data nodes only: the sentinels have nothing to do.
      expect(said.filter((line) => / add: /.test(line)).every((line) => /redis-server: app accepts the new password besides the old one \(ACL file saved\)/.test(line))).toBe(true);
    } finally {
      app.disconnect();
    }
  });

  scenario("2. the replication user: switch refuses before add, retire before switch; then masterauth follows without a resync", 150_000, async () => {
    const confs = () => nodes.map((n) => fs.readFileSync(processOf(n.name, "redis")!.confFile, "utf8"));
    await rotate("replication", async (after, oldPassword, newPassword) => {
      if (after === "put") {
        // Too early: no node accepts the new password yet.
        const early = await step("switch", "replication");
        expect(early.map((r) => r.code)).toEqual([1, 1, 1]);
        for (const r of early) expect(r.stderr).toContain("does not accept the new password of replication: run the add step on every node first; nothing was switched");
        expect(confs().every((c) => c.includes(oldPassword) && !c.includes(newPassword))).toBe(true);
      }
      if (after === "add") {
        const early = await step("retire", "replication");
        expect(early.map((r) => r.code)).toEqual([1, 1, 1]);
        for (const r of early) expect(r.stderr).toContain("still logs in as replication with the old password: run the switch step on every node first; nothing was retired");
        // Idempotent: add again changes nothing.
        const again = await step("add", "replication");
        expect(succeeded(again)).toEqual(allZero(again));
      }
      if (after === "switch") {
        // CONFIG REWRITE saved the new masterauth on every node (any node can become a replica).
        expect(confs().map((c) => /^masterauth (\S+)$/m.exec(c)?.[1].replace(/^"|"$/g, ""))).toEqual(nodes.map(() => newPassword));
      }
    });
  });

  scenario("3. the sentinel user: the sentinels log in to the data nodes with the new password, also after losing their links", 150_000, async () => {
    await rotate("sentinel", async (after, _old, newPassword) => {
      if (after === "switch") {
        const confs = nodes.map((n) => fs.readFileSync(processOf(n.name, "sentinel")!.confFile, "utf8"));
        expect(confs.map((c) => new RegExp(`^sentinel auth-pass ${masterName} (\\S+)$`, "m").exec(c)?.[1])).toEqual(nodes.map(() => newPassword));
      }
    });
    // Only the new password is accepted now: cut the sentinels' links, they log in again.
    for (const node of nodes) await admin(node, redisPort, (c) => c.call("CLIENT", "KILL", "USER", "sentinel"));
    await connectedFrom("sentinel", redisPort, () => nodes.map((n) => n.ip));
    await sleep(1500);
    await waitUntil(healthy, { timeoutMs: 10_000, what: "a healthy group after the sentinels logged in again" });
  });

  scenario("4. the sentinel-peer user: the sentinels log in to each other with the new password, also after losing their links", 150_000, async () => {
    await rotate("sentinel-peer", async (after, _old, newPassword) => {
      if (after === "switch") {
        const confs = nodes.map((n) => fs.readFileSync(processOf(n.name, "sentinel")!.confFile, "utf8"));
        expect(confs.map((c) => /^sentinel sentinel-pass (\S+)$/m.exec(c)?.[1])).toEqual(nodes.map(() => newPassword));
      }
    });
    for (const node of nodes) await admin(node, sentinelPort, (c) => c.call("CLIENT", "KILL", "USER", "sentinel-peer"));
    await connectedFrom("sentinel-peer", sentinelPort, (node) => nodes.filter((n) => n !== node).map((n) => n.ip));
    await waitUntil(healthy, { timeoutMs: 10_000, what: "a healthy group after the sentinels logged in to each other again" });
  });

  scenario("5. the monitor user: at switch each node's exporter password file gets the new password for every target, then the exporter restarts", 150_000, async () => {
    const said = await rotate("monitor", async (after, _old, newPassword) => {
      if (after === "add") expect(nodes.map((n) => fs.existsSync(dirsOf(n).systemctlLog))).toEqual([false, false, false]);
      if (after === "switch") {
        for (const node of nodes) {
          const written = fs.readFileSync(dirsOf(node).exporterPasswords, "utf8");
          const targets = envOf(node, "EXPORTER_TARGETS").split(" ");
          expect(targets.length).toBeGreaterThanOrEqual(2); // its redis-server and its sentinel
          expect({ node: node.name, passwords: JSON.parse(written) }).toEqual({ node: node.name, passwords: Object.fromEntries(targets.map((t) => [t, newPassword])) });
          expect({ node: node.name, mode: (fs.statSync(dirsOf(node).exporterPasswords).mode & 0o777).toString(8) }).toEqual({ node: node.name, mode: "600" });
          // Restarted once, after the file held the new password (systemd hands the exporter a copy at start).
          expect(fs.readFileSync(dirsOf(node).systemctlLog, "utf8")).toBe(`restart prometheus-redis-exporter.service ${sha256(written)}\n`);
        }
      }
    });
    expect(said.filter((line) => / switch: /.test(line)).every((line) => /exporter: logs in with the new password of monitor \(restarted\)/.test(line))).toBe(true);
  });

  scenario("6. a restarted replica and a restarted sentinel come back with the new passwords from their saved configs", 120_000, async () => {
    const before = await state();
    const replica = nodes.find((n) => n !== master)!;
    // SIGTERM, as systemctl stop does: the replica saves its RDB and resumes with a partial resync.
    await stop(replica.name, "redis");
    await restart(replica.name, "redis");
    const sentinelNode = nodes.find((n) => n !== master && n !== replica)!;
    await stop(sentinelNode.name, "sentinel");
    await restart(sentinelNode.name, "sentinel");
    await waitUntil(
      async () => (await state()).links.every((l) => l.endsWith(`${master.ip} up`)) && (await healthy()),
      { timeoutMs: 40_000, intervalMs: 250, what: "the replica back in sync and the sentinel back in the quorum" },
    );
    // The restarted sentinel logs in to the data nodes (sentinel) and to the other sentinels (sentinel-peer), and they to it.
    await connectedFrom("sentinel", redisPort, () => nodes.map((n) => n.ip));
    await connectedFrom("sentinel-peer", sentinelPort, (node) => nodes.filter((n) => n !== node).map((n) => n.ip));
    const after = await state();
    console.log(`restart: replica ${replica.name} sync_partial_ok ${before.syncPartial} -> ${after.syncPartial}, sync_full ${before.syncFull} -> ${after.syncFull}`);
    expect(after.syncFull).toBe(before.syncFull);
    expect(after.syncPartial).toBe(before.syncPartial + 1);
    // Both came back on the rotated passwords: the old ones are retired everywhere.
    for (const user of ["replication", "sentinel", "sentinel-peer", "app"]) expect(await logins(user, PASSWORDS[user])).toEqual(each("ok"));
  });

  scenario("7. no sentinel saw the master, a replica or a sentinel down, nor started a failover, all along", 30_000, async () => {
    const events = nodes.flatMap((n) =>
      fs.readFileSync(processOf(n.name, "sentinel")!.logFile, "utf8").split("\n").filter((l) => /[+-](sdown|odown|try-failover|switch-master|failover-abort)/.test(l)).map((l) => `${n.name}: ${l}`),
    );
    expect(events).toEqual([]);
  });

  scenario("8. no step printed a secret or put one (or a hash) on a redis-cli command line", 30_000, async () => {
    expect(outputs.length).toBeGreaterThan(0);
    const argv = fs.readFileSync(argvLog, "utf8");
    expect(argv.split("\n").filter(Boolean).length).toBeGreaterThan(50);
    const secrets = [...everyPassword].flatMap((p) => [p, sha256(p)]);
    expect(secrets.filter((s) => argv.includes(s))).toEqual([]);
    expect(secrets.filter((s) => outputs.some((o) => o.includes(s)))).toEqual([]);
    // The rotation's private copies of the secrets are gone.
    for (const node of nodes) expect(fs.readdirSync(dirsOf(node).run)).toEqual([]);
  });
}
