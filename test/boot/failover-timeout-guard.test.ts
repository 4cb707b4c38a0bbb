// The planned failover shortens the local sentinel's failover-timeout to
// 1 ms for a moment (step 6) and records the value to put back in a
// root-only state file first. A step killed in between (SIGKILL, OOM) leaves
// that file, and the next run on the node puts the value back: the role
// decision at every start of redis-server, and the step itself. Run for real
// on loopback: a master, its replica and a sentinel with the rendered
// configs and ACL users, the boot scripts as the node has them.
import { ChildProcess, spawn, spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { Redis } from "ioredis";
import { dataNodeUsers, renderAclFile, renderRedisConf, renderSentinelConf } from "../../lib/boot";
import { DEFAULT_FAILOVER_TIMEOUT_MS, resolveRedisConf, resolveSentinelConf } from "../../lib/options";
import { freePort, testNeeding } from "../helpers";
import { LocalRedis } from "./local-redis";

const PARTS = resolve(__dirname, "../../lib/boot/parts/assets");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
// The default the sentinel.conf below gets.
const FAILOVER_TIMEOUT = String(DEFAULT_FAILOVER_TIMEOUT_MS);
const USERS = ["replication", "sentinel", "admin", "monitor", "node-ops", "sentinel-peer", "sentinel-client"];
// Letters and digits: the step's sessions split a login at ':'.
const passwordOf = (user: string) => `pw${user.replace(/-/g, "")}0123456789`;

const it = testNeeding(["redis-server", "redis-cli"]);

let local: LocalRedis | undefined;
let dir = "";
let masterPort = 0;
let replicaPort = 0;
let sentinelPort = 0;
let sentinelConf = "";
const pending = () => join(dir, "state", "failover-timeout.pending");

function client(port: number, user: string): Redis {
  return local!.track(
    new Redis({
      host: "127.0.0.1",
      port,
      username: user,
      password: passwordOf(user),
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
  );
}
let sentinelAdmin: Redis;

/** SENTINEL MASTER main as a map. */
async function sentinelMaster(): Promise<Record<string, string>> {
  const flat = (await sentinelAdmin.call("SENTINEL", "MASTER", "main")) as string[];
  return Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
}
const failoverTimeout = async () => (await sentinelMaster())["failover-timeout"];
const setFailoverTimeout = (ms: string) => sentinelAdmin.call("SENTINEL", "SET", "main", "failover-timeout", ms);

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** node.env as the node's parts write it (node-ops password file, sentinel and role settings), for the node at `redisPort`. */
function nodeEnv(redisPort: number, overrides: Record<string, string> = {}): string {
  const settings: Record<string, string> = {
    REDIS_PORT: String(redisPort),
    NODE_ADDRESS: "127.0.0.1",
    SENTINEL_PORT: String(sentinelPort),
    SENTINEL_MASTER_NAME: "main",
    NODE_OPS_PASSWORD_FILE: join(dir, "node-ops.password"),
    // A group whose only sentinel is this node's: the decision asks no one else.
    ROLE_SELF: "127.0.0.1",
    ROLE_PLANNED: "master",
    ROLE_SENTINELS: "127.0.0.1",
    ROLE_SENTINEL_PORT: String(sentinelPort),
    ROLE_MASTER_NAME: "main",
    ROLE_ASK_SECONDS: "1",
    ROLE_WAIT_SECONDS: "2",
    ...overrides,
  };
  const file = join(dir, `node-${redisPort}.env`);
  writeFileSync(
    file,
    Object.entries(settings)
      .map(([k, v]) => `${k}='${v}'\n`)
      .join("")
  );
  return file;
}

const stepEnv = (env: string) => ({
  ...process.env,
  REDIS_NODE_LIB: BOOT_LIB,
  REDIS_NODE_ENV: env,
  REDIS_NODE_STATE_DIR: join(dir, "state"),
  REDIS_NODE_SENTINEL_CONF: sentinelConf,
});

/** redis-role.sh decide (redis-server's ExecStartPre) on a scratch redis.conf. */
function decide(envOverrides: Record<string, string> = {}) {
  const conf = join(dir, "decide-redis.conf");
  writeFileSync(conf, "port 0\n", { mode: 0o640 });
  const r = spawnSync("bash", [join(PARTS, "redis-role.sh"), "decide"], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...stepEnv(nodeEnv(masterPort, envOverrides)), REDIS_NODE_REDIS_CONF: conf, REDIS_NODE_DATA_DIR: join(dir, "empty-data") },
  });
  return { status: r.status, stderr: r.stderr };
}

/** The planned failover step's stop (redis-server's ExecStop=) for the node at `redisPort`. */
function stop(redisPort: number) {
  const r = spawnSync("bash", [join(PARTS, "planned-failover.sh"), "stop"], { encoding: "utf8", timeout: 60_000, env: stepEnv(nodeEnv(redisPort)) });
  return { status: r.status, stderr: r.stderr };
}

beforeAll(async () => {
  if (spawnSync("redis-server", ["--version"]).status !== 0) return;
  dir = mkdtempSync(join(tmpdir(), "failover-timeout-guard-"));
  local = new LocalRedis(dir);
  mkdirSync(join(dir, "state"), { mode: 0o700 });
  mkdirSync(join(dir, "empty-data"));
  writeFileSync(join(dir, "node-ops.password"), passwordOf("node-ops"), { mode: 0o600 });
  [masterPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
  const passwords = Object.fromEntries(USERS.map((u) => [u, passwordOf(u)]));
  const aclFile = local.renderWithBootScript("users.acl", renderAclFile(dataNodeUsers([], true)), passwords);
  const node = { nodeAddress: "127.0.0.1", maxMemory: "64mb", ioThreads: 1 };
  const masterConf = local.renderWithBootScript("master.conf", renderRedisConf(resolveRedisConf({ port: masterPort }, node)), passwords);
  const replicaConf = local.renderWithBootScript(
    "replica.conf",
    renderRedisConf(resolveRedisConf({ port: replicaPort }, { ...node, masterAddress: "127.0.0.1", masterPort })),
    passwords
  );
  sentinelConf = local.renderWithBootScript(
    "sentinel.conf",
    renderSentinelConf(resolveSentinelConf({ port: sentinelPort }, { nodeAddress: "127.0.0.1", masterAddress: "127.0.0.1", masterPort, defaultQuorum: 1 })),
    passwords
  );
  const common = ["--aclfile", aclFile, "--repl-diskless-sync-delay", "0"];
  await local.start(masterConf, masterPort, [...common, "--dbfilename", "master.rdb"]);
  await local.start(replicaConf, replicaPort, [...common, "--dbfilename", "replica.rdb"]);
  await local.start(sentinelConf, sentinelPort, ["--sentinel"]);
  sentinelAdmin = client(sentinelPort, "admin");
}, 30_000);

afterAll(async () => {
  await local?.stop();
});

describe("failover-timeout after a planned failover that was killed", () => {
  it("killed right after it set failover-timeout 1 ms, the step leaves the value in a root-only file; the role decision at the next start puts it back", async () => {
    expect(await failoverTimeout()).toBe(FAILOVER_TIMEOUT);
    // The hand-over needs the replica attached and known to the sentinel.
    await waitFor("the sentinel to see the replica", async () => {
      const replicas = (await sentinelAdmin.call("SENTINEL", "REPLICAS", "main")) as string[][];
      return replicas.some((r) => r[r.indexOf("port") + 1] === String(replicaPort) && r[r.indexOf("flags") + 1] === "slave");
    });
    let step: ChildProcess | undefined;
    let stderr = "";
    try {
      step = spawn("bash", [join(PARTS, "planned-failover.sh"), "stop"], {
        env: { ...stepEnv(nodeEnv(masterPort)), HANDOVER_TEST_SLEEP_AFTER_SHORTEN: "120" },
        stdio: ["ignore", "ignore", "pipe"],
        detached: true,
      });
      step.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      await waitFor(
        "the step to shorten failover-timeout",
        async () => stderr.includes("test hook: failover-timeout is 1 ms") || step!.exitCode !== null,
        40_000
      );
      expect({ stderr, exited: step.exitCode }).toEqual({ stderr: expect.stringContaining("test hook: failover-timeout is 1 ms"), exited: null });
    } finally {
      // SIGKILL: no trap runs. The whole group, so its redis-cli sessions go too.
      if (step?.pid !== undefined && step.exitCode === null) process.kill(-step.pid, "SIGKILL");
    }
    expect(await failoverTimeout()).toBe("1");
    expect(readFileSync(pending(), "utf8")).toBe(`main ${FAILOVER_TIMEOUT}\n`);
    expect(statSync(pending()).mode & 0o777).toBe(0o600);

    const r = decide();
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(
      `redis-node-setup: failover-timeout of main put back to ${FAILOVER_TIMEOUT} ms: a planned failover was stopped before it could (the sentinel had 1 ms)`
    );
    expect(await failoverTimeout()).toBe(FAILOVER_TIMEOUT);
    expect(existsSync(pending())).toBe(false);
    // Saved, as the 1 ms was: the sentinel rewrote its file.
    expect(readFileSync(sentinelConf, "utf8")).toMatch(new RegExp(`^sentinel failover-timeout main ${FAILOVER_TIMEOUT}$`, "m"));
  }, 90_000);

  it("the step's next run puts it back too, before its checks (here on a replica: no hand-over)", async () => {
    await setFailoverTimeout("1");
    writeFileSync(pending(), `main ${FAILOVER_TIMEOUT}\n`, { mode: 0o600 });
    // The first node replicates from the other one now: the killed step had demoted it.
    const r = stop(masterPort);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`planned-failover: failover-timeout of main put back to ${FAILOVER_TIMEOUT} ms`);
    expect(r.stderr).toContain("no hand-over: this node is a replica");
    expect(await failoverTimeout()).toBe(FAILOVER_TIMEOUT);
    expect(existsSync(pending())).toBe(false);
  }, 60_000);

  it("a hand-over that runs to its end puts the value back itself and leaves no file", async () => {
    // On a node redis-server stops after the killed step, which ends the
    // pause it left (a paused replica does not apply the stream either).
    const first = client(masterPort, "admin");
    await first.call("CLIENT", "UNPAUSE");
    await first.config("SET", "repl-ping-replica-period", "10");
    // The other node is the master now; the sentinel learns of its new replica at its next INFO (10 s).
    await waitFor(
      "the sentinel to see the first node as a replica",
      async () => {
        const replicas = (await sentinelAdmin.call("SENTINEL", "REPLICAS", "main")) as string[][];
        return replicas.some((r) => r[r.indexOf("port") + 1] === String(masterPort) && r[r.indexOf("flags") + 1] === "slave");
      },
      30_000,
    );
    const r = stop(replicaPort);
    expect(r.stderr).toContain("hand-over done");
    expect(r.stderr).not.toContain("kept");
    expect(await failoverTimeout()).toBe(FAILOVER_TIMEOUT);
    expect(existsSync(pending())).toBe(false);
  }, 60_000);

  it("without the file nothing is changed, whatever the sentinel has", async () => {
    await setFailoverTimeout("1");
    try {
      const r = decide();
      expect(r.status).toBe(0);
      expect(r.stderr).not.toContain("failover-timeout");
      expect(await failoverTimeout()).toBe("1");
    } finally {
      await setFailoverTimeout(FAILOVER_TIMEOUT);
    }
  }, 60_000);

  for (const { case: name, now, file, log } of [
    {
      case: "the value is already back (killed after it put it back)",
      now: FAILOVER_TIMEOUT,
      file: `main ${FAILOVER_TIMEOUT}\n`,
      log: `failover-timeout of main is ${FAILOVER_TIMEOUT} ms: nothing to put back`,
    },
    {
      case: "an operator set another value since: left alone",
      now: "45000",
      file: `main ${FAILOVER_TIMEOUT}\n`,
      log: `failover-timeout of main is 45000 ms, set since the planned failover shortened it: left alone (it was ${FAILOVER_TIMEOUT} ms)`,
    },
    { case: "a file that names no value: a warning", now: "1", file: "main\n", log: "WARNING: " },
  ]) {
    it(`with the file: ${name}; the file is removed`, async () => {
      await setFailoverTimeout(now);
      writeFileSync(pending(), file, { mode: 0o600 });
      try {
        const r = decide();
        expect(r.status).toBe(0);
        expect(r.stderr).toContain(log);
        expect(await failoverTimeout()).toBe(now);
        expect(existsSync(pending())).toBe(false);
      } finally {
        await setFailoverTimeout(FAILOVER_TIMEOUT);
        rmSync(pending(), { force: true });
      }
    }, 60_000);
  }

  for (const { case: name, overrides, log } of [
    {
      case: "the sentinel does not answer",
      overrides: (): Record<string, string> => ({ ROLE_SENTINEL_PORT: "1" }),
      log: "WARNING: this node's sentinel did not answer SENTINEL MASTER main",
    },
    {
      case: "the node-ops password cannot be read",
      overrides: (): Record<string, string> => ({ NODE_OPS_PASSWORD_FILE: join(dir, "missing") }),
      log: "(cannot read the node-ops password",
    },
  ]) {
    it(`${name}: the start goes on with a warning, the file is kept for the next run`, async () => {
      await setFailoverTimeout("1");
      writeFileSync(pending(), `main ${FAILOVER_TIMEOUT}\n`, { mode: 0o600 });
      try {
        const r = decide(overrides());
        expect(r.status).toBe(0);
        expect(r.stderr).toContain(log);
        expect(r.stderr).toContain("kept");
        expect(r.stderr).toContain("role: starting as master");
        expect(await failoverTimeout()).toBe("1");
        expect(readFileSync(pending(), "utf8")).toBe(`main ${FAILOVER_TIMEOUT}\n`);
      } finally {
        await setFailoverTimeout(FAILOVER_TIMEOUT);
        rmSync(pending(), { force: true });
      }
    }, 60_000);
  }
});
