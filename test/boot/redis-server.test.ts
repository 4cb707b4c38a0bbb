// The rendered redis.conf and sentinel.conf, with the password put in by the
// boot script's own render_template, run on the redis-server of this machine.
import { ChildProcess, spawn, spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { Redis } from "ioredis";
import { renderRedisConf, renderSentinelConf } from "../../lib/boot";
import { resolveRedisConf, resolveSentinelConf } from "../../lib/options";
import { directiveArgs, freePort, masterConfSettings, parseRedisConf, testNeeding } from "../helpers";

const SETUP_SCRIPT = resolve(__dirname, "../../lib/boot/assets/common.sh");
// Space, both quotes, backslash, '#', '&', '$' and a non-ASCII letter.
const PASSWORD = `p a"s's\\w#r&d$HOME é \\"`;
// What formatArgument must carry through redis.conf: every character class it escapes.
const ODD_VALUE = `a b"c'd\\e#f&g$h é\t\n\x01\x7f end`;

const it = testNeeding(["redis-server"]);

interface Server {
  readonly process: ChildProcess;
  readonly port: number;
  output: string;
}

let dir = "";
const servers: Server[] = [];
const clients: Redis[] = [];

/** Writes `template` with the placeholder replaced by the boot script's render_template. */
function renderWithSetupScript(name: string, template: string): string {
  const templateFile = join(dir, `${name}.template`);
  const passwordFile = join(dir, "password");
  const dest = join(dir, name);
  writeFileSync(templateFile, template);
  writeFileSync(passwordFile, PASSWORD, { mode: 0o600 });
  const run = spawnSync("bash", ["-c", 'source "$1" && render_template "$2" "$3" "$4"', "_", SETUP_SCRIPT, templateFile, dest, passwordFile], {
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`render_template failed: ${run.stderr}`);
  return dest;
}

/** Starts redis-server on `conf`, overriding what would need root or systemd. */
async function start(conf: string, port: number, extraArgs: string[] = []): Promise<Server> {
  const args = [conf, ...extraArgs, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--logfile", ""];
  args.push("--supervised", "no", "--daemonize", "no", "--pidfile", join(dir, `${port}.pid`));
  const server: Server = { process: spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] }), port, output: "" };
  servers.push(server);
  server.process.stdout!.on("data", (d: Buffer) => (server.output += d.toString()));
  server.process.stderr!.on("data", (d: Buffer) => (server.output += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections|Sentinel ID is/.test(server.output)) {
    if (server.process.exitCode !== null || Date.now() > deadline) {
      throw new Error(`redis-server ${conf} did not start:\n${server.output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return server;
}

function client(port: number): Redis {
  const c = new Redis({ host: "127.0.0.1", port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  clients.push(c);
  return c;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("rendered configuration on a real redis-server", () => {
  let masterPort = 0;
  let replicaPort = 0;
  let sentinelPort = 0;
  let oddPort = 0;
  let replicaConf = "";

  beforeAll(async () => {
    if (spawnSync("redis-server", ["--version"]).status !== 0) return;
    dir = mkdtempSync(join(tmpdir(), "redis-conf-"));
    [masterPort, replicaPort, sentinelPort, oddPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const node = { nodeAddress: "127.0.0.1", maxMemory: "64mb" };
    // The defaults the constructs render, with the group's min-replicas-to-write.
    const redis = { minReplicasToWrite: 1 };
    const masterConf = renderWithSetupScript("master.conf", renderRedisConf(resolveRedisConf({ ...redis, port: masterPort }, node)));
    replicaConf = renderWithSetupScript(
      "replica.conf",
      renderRedisConf(resolveRedisConf({ ...redis, port: replicaPort }, { ...node, masterAddress: "127.0.0.1", masterPort })),
    );
    const sentinelConf = renderWithSetupScript(
      "sentinel.conf",
      renderSentinelConf(
        resolveSentinelConf({ port: sentinelPort }, { nodeAddress: "127.0.0.1", masterAddress: "127.0.0.1", masterPort, defaultQuorum: 1 }),
      ),
    );
    // Only the 5 s wait of diskless sync is shortened, to keep the test fast.
    await start(masterConf, masterPort, ["--repl-diskless-sync-delay", "0"]);
    await start(replicaConf, replicaPort);
    await start(sentinelConf, sentinelPort, ["--sentinel"]);
    // A standalone server whose announced address is an odd string (its bind is overridden).
    const oddConf = renderWithSetupScript("odd.conf", renderRedisConf(masterConfSettings({ nodeAddress: ODD_VALUE, port: oddPort, minReplicasToWrite: 0 })));
    await start(oddConf, oddPort);
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    for (const s of servers) {
      if (s.process.exitCode !== null) continue;
      let timer: NodeJS.Timeout | undefined;
      const exited = new Promise((r) => s.process.once("exit", r));
      s.process.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
      if (s.process.exitCode === null) s.process.kill("SIGKILL");
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the installed redis-server is Redis 7 or newer", () => {
    const version = /v=(\d+)\./.exec(spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout);
    expect(Number(version?.[1])).toBeGreaterThanOrEqual(7);
  });

  it("formatArgument's quoting reaches Redis intact: an odd string comes back from CONFIG GET", async () => {
    const c = client(oddPort);
    await c.connect();
    await c.auth(PASSWORD);
    expect(await c.config("GET", "replica-announce-ip")).toEqual(["replica-announce-ip", ODD_VALUE]);
  });

  it("redis-server reads the rendered file as the tests' parser does", async () => {
    const parsed = parseRedisConf(readFileSync(replicaConf, "utf8"));
    const c = client(replicaPort);
    await c.connect();
    await c.auth(PASSWORD);
    for (const name of ["requirepass", "masterauth", "replicaof", "replica-announce-ip", "save", "maxmemory-policy", "min-replicas-to-write", "appendonly"]) {
      const [, value] = (await c.config("GET", name)) as string[];
      expect({ name, value }).toEqual({ name, value: directiveArgs(parsed, name).join(" ") });
    }
    expect(directiveArgs(parsed, "requirepass")).toEqual([PASSWORD]);
  });

  it("the master accepts the raw password, refuses a wrong one and unauthenticated commands", async () => {
    const c = client(masterPort);
    await c.connect();
    await expect(c.ping()).rejects.toThrow(/NOAUTH/);
    await expect(c.auth(PASSWORD + "x")).rejects.toThrow(/WRONGPASS|invalid password/);
    await expect(c.auth(PASSWORD)).resolves.toBe("OK");
    await expect(c.ping()).resolves.toBe("PONG");
  });

  it("the replica authenticates to the master with masterauth and replicates", async () => {
    const r = client(replicaPort);
    await r.connect();
    await expect(r.auth("wrong")).rejects.toThrow(/WRONGPASS|invalid password/);
    await r.auth(PASSWORD);
    await waitFor("master_link_status:up", async () => /master_link_status:up/.test(await r.info("replication")));
    const m = client(masterPort);
    await m.connect();
    await m.auth(PASSWORD);
    // min-replicas-to-write 1: the write is accepted because the replica is connected.
    await waitFor("the master to count its replica", async () => /connected_slaves:1/.test(await m.info("replication")));
    await expect(m.set("k", "v")).resolves.toBe("OK");
    await waitFor("the write to reach the replica", async () => (await r.get("k")) === "v");
  });

  it("Sentinel requires the password and authenticates to the master with auth-pass", async () => {
    const s = client(sentinelPort);
    await s.connect();
    await expect(s.ping()).rejects.toThrow(/NOAUTH/);
    await expect(s.auth(PASSWORD)).resolves.toBe("OK");
    // The replica is only known from INFO on the master, which needs auth-pass.
    const master = async () => {
      const flat = (await s.call("SENTINEL", "MASTER", "main")) as string[];
      return Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
    };
    await waitFor("Sentinel to discover the replica", async () => (await master())["num-slaves"] === "1");
    expect((await master()).flags).toBe("master");
    expect((await master()).port).toBe(String(masterPort));
  });
});
