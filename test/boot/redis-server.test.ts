// The rendered redis.conf, ACL file and sentinel.conf, with the secrets put in
// by the boot script's own render_template, run on the redis-server of this
// machine: every user can do what it needs and nothing else.
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { Redis } from "ioredis";
import { BUILTIN_USERS, dataNodeUsers, NODE_OPS_USER, renderAclFile, renderRedisConf, renderSentinelConf } from "../../lib/boot";
import { resolveRedisConf, resolveSentinelConf } from "../../lib/options";
import { rulesOf } from "../../lib/private/planner";
import { directiveArgs, freePort, masterConfSettings, parseRedisConf, testNeeding } from "../helpers";
import { LocalRedis } from "./local-redis";

// Space, both quotes, backslash, '#', '&', '$' and a non-ASCII letter, different for each user.
const passwordOf = (user: string) => `p a"s's\\w#r&d$HOME é \\" ${user}`;
const USERS = [...Object.values(BUILTIN_USERS), NODE_OPS_USER, "app", "reader", "scripter"];
// What formatArgument must carry through redis.conf: every character class it escapes.
const ODD_VALUE = `a b"c'd\\e#f&g$h é\t\n\x01\x7f end`;

const it = testNeeding(["redis-server"]);

let local: LocalRedis | undefined;
const PASSWORDS = Object.fromEntries(USERS.map((user) => [user, passwordOf(user)]));

/** The boot's render_template, with every user's password, and for the admin user only its stored hash. */
const renderWithBootScript = (name: string, template: string) => local!.renderWithBootScript(name, template, PASSWORDS, ["admin"]);
const start = (conf: string, port: number, extraArgs: string[] = []) => local!.start(conf, port, extraArgs);

function client(port: number): Redis {
  return local!.track(
    new Redis({ host: "127.0.0.1", port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null }),
  );
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A connected client, logged in as `user` when one is given. */
async function as(port: number, user?: string): Promise<Redis> {
  const c = client(port);
  await c.connect();
  if (user) await c.auth(user, passwordOf(user));
  return c;
}

/** The first word of the reply or error of a command: "OK", "NOPERM", "WRONGPASS", ... */
async function outcome(c: Redis, ...command: string[]): Promise<string> {
  try {
    const reply = await c.call(command[0], ...command.slice(1));
    return typeof reply === "string" && !reply.includes("\n") ? reply.split(" ")[0] : "reply";
  } catch (e) {
    return (e as Error).message.split(" ")[0];
  }
}

describe("rendered configuration on a real redis-server", () => {
  let masterPort = 0;
  let replicaPort = 0;
  let sentinelPort = 0;
  let oddPort = 0;
  let replicaConf = "";
  let aclFile = "";

  beforeAll(async () => {
    if (spawnSync("redis-server", ["--version"]).status !== 0) return;
    local = new LocalRedis(mkdtempSync(join(tmpdir(), "redis-conf-")));
    [masterPort, replicaPort, sentinelPort, oddPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const node = { nodeAddress: "127.0.0.1", maxMemory: "64mb", ioThreads: 1 };
    // The defaults the constructs render, with the group's min-replicas-to-write.
    const redis = { minReplicasToWrite: 1 };
    const applicationUsers = [
      { name: "app" },
      { name: "reader", readOnly: true, keyPatterns: ["cache:*"], channelPatterns: [] },
      { name: "scripter", allowScripting: true, extraRules: ["-get"] },
    ].map((u) => ({ name: u.name, rules: rulesOf(u) }));
    aclFile = renderWithBootScript("users.acl", renderAclFile(dataNodeUsers(applicationUsers, true)));
    const withAcl = ["--aclfile", aclFile];
    const masterConf = renderWithBootScript("master.conf", renderRedisConf(resolveRedisConf({ ...redis, port: masterPort }, node)));
    replicaConf = renderWithBootScript(
      "replica.conf",
      renderRedisConf(resolveRedisConf({ ...redis, port: replicaPort }, { ...node, masterAddress: "127.0.0.1", masterPort })),
    );
    const sentinelConf = renderWithBootScript(
      "sentinel.conf",
      renderSentinelConf(
        resolveSentinelConf({ port: sentinelPort }, { nodeAddress: "127.0.0.1", masterAddress: "127.0.0.1", masterPort, defaultQuorum: 1 }),
      ),
    );
    // Only the 5 s wait of diskless sync is shortened, to keep the test fast.
    await start(masterConf, masterPort, ["--repl-diskless-sync-delay", "0", ...withAcl]);
    await start(replicaConf, replicaPort, withAcl);
    await start(sentinelConf, sentinelPort, ["--sentinel"]);
    // A standalone server whose announced address is an odd string (its bind is overridden).
    const oddConf = renderWithBootScript("odd.conf", renderRedisConf(masterConfSettings({ nodeAddress: ODD_VALUE, port: oddPort, minReplicasToWrite: 0 })));
    await start(oddConf, oddPort, withAcl);
  }, 30_000);

  afterAll(async () => {
    await local?.stop();
  });

  it("the installed redis-server is Redis 7 or newer", () => {
    const version = /v=(\d+)\./.exec(spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout);
    expect(Number(version?.[1])).toBeGreaterThanOrEqual(7);
  });

  it("formatArgument's quoting reaches Redis intact: an odd string comes back from CONFIG GET", async () => {
    const c = await as(oddPort, "admin");
    expect(await c.config("GET", "replica-announce-ip")).toEqual(["replica-announce-ip", ODD_VALUE]);
  });

  it("redis-server reads the rendered file as the tests' parser does; the password went in escaped", async () => {
    const parsed = parseRedisConf(readFileSync(replicaConf, "utf8"));
    const c = await as(replicaPort, "admin");
    for (const name of ["masteruser", "masterauth", "replicaof", "replica-announce-ip", "save", "maxmemory-policy", "min-replicas-to-write", "appendonly"]) {
      const [, value] = (await c.config("GET", name)) as string[];
      expect({ name, value }).toEqual({ name, value: directiveArgs(parsed, name).join(" ") });
    }
    expect(directiveArgs(parsed, "masterauth")).toEqual([passwordOf("replication")]);
  });

  it("the ACL file holds hashes, never a password; Redis loaded every user from it", async () => {
    const text = readFileSync(aclFile, "utf8");
    for (const user of USERS) expect({ user, leaked: text.includes(passwordOf(user)) }).toEqual({ user, leaked: false });
    const c = await as(masterPort, "admin");
    const list = (await c.call("ACL", "LIST")) as string[];
    expect(list.map((l) => l.split(" ").slice(0, 3).join(" ")).sort()).toEqual(
      ["admin", "app", "monitor", "node-ops", "reader", "replication", "scripter", "sentinel"].map((u) => `user ${u} on`).concat(["user default off"]).sort(),
    );
    // The hash that render_template made from the password is the one Redis computes.
    expect(list.find((l) => l.startsWith("user app "))).toContain(`#${createHash("sha256").update(passwordOf("app")).digest("hex")}`);
  });

  it("the default user is off: no command without a user, and no login with a bare password", async () => {
    const c = await as(masterPort);
    expect(await outcome(c, "PING")).toBe("NOAUTH");
    expect(await outcome(c, "AUTH", passwordOf("app"))).toBe("WRONGPASS");
    expect(await outcome(c, "AUTH", "app", passwordOf("app") + "x")).toBe("WRONGPASS");
  });

  it("the application user reads and writes its keys, and can do none of the dangerous things", async () => {
    const app = await as(masterPort, "app");
    expect(await outcome(app, "SET", "k", "v")).toBe("OK");
    expect(await outcome(app, "GET", "k")).toBe("v");
    expect(await outcome(app, "INFO", "replication")).toBe("reply");
    const denied = [
      ["CONFIG", "GET", "masterauth"],
      ["CONFIG", "SET", "maxmemory", "1"],
      ["ACL", "SETUSER", "backdoor", "on", ">x", "+@all"],
      ["REPLICAOF", "10.0.0.1", "6379"],
      ["MIGRATE", "10.0.0.1", "6379", "k", "0", "1000", "COPY"],
      ["SHUTDOWN", "NOSAVE"],
      ["FLUSHALL"],
      ["MODULE", "LIST"],
      ["EVAL", "return 1", "0"],
      ["FUNCTION", "LIST"],
      ["KEYS", "*"],
    ];
    const outcomes = [];
    for (const command of denied) outcomes.push(`${command.slice(0, 2).join(" ")}: ${await outcome(app, ...command)}`);
    expect(outcomes).toEqual(denied.map((command) => `${command.slice(0, 2).join(" ")}: NOPERM`));
    // DEBUG is off for everyone (enable-debug-command no) before ACLs are asked; the ACL denies it too.
    expect(await outcome(app, "DEBUG", "SLEEP", "0")).toBe("ERR");
    const admin = await as(masterPort, "admin");
    expect(await admin.call("ACL", "DRYRUN", "app", "DEBUG", "SLEEP", "0")).toMatch(/no permissions to run the 'debug' command/);
  });

  it("application user options: read-only users, key and channel patterns, scripting and extra rules", async () => {
    const admin = await as(masterPort, "admin");
    const dryrun = async (user: string, ...command: string[]) => {
      const reply = (await admin.call("ACL", "DRYRUN", user, ...command)) as string;
      return reply === "OK" ? "OK" : "denied";
    };
    expect([
      await dryrun("reader", "GET", "cache:1"),
      await dryrun("reader", "GET", "orders:1"),
      await dryrun("reader", "SET", "cache:1", "v"),
      await dryrun("reader", "PUBLISH", "news", "x"),
      await dryrun("app", "EVAL", "return 1", "0"),
      await dryrun("scripter", "EVAL", "return 1", "0"),
      await dryrun("scripter", "GET", "k"),
      await dryrun("app", "GET", "k"),
      await dryrun("scripter", "CONFIG", "GET", "masterauth"),
    ]).toEqual(["OK", "denied", "denied", "denied", "denied", "OK", "denied", "OK", "denied"]);
  });

  it("monitor reads statistics only; admin can do everything", async () => {
    const monitor = await as(masterPort, "monitor");
    expect(await outcome(monitor, "INFO", "memory")).toBe("reply");
    expect(await outcome(monitor, "SLOWLOG", "GET")).toBe("reply");
    for (const command of [["CONFIG", "GET", "masterauth"], ["GET", "k"], ["SET", "k", "x"], ["CLIENT", "LIST"]]) {
      expect({ command, result: await outcome(monitor, ...command) }).toEqual({ command, result: "NOPERM" });
    }
    const admin = await as(masterPort, "admin");
    expect(await outcome(admin, "CONFIG", "GET", "maxmemory")).toBe("reply");
    // Pinned off in redis.conf: not even the admin user has them.
    expect(await outcome(admin, "DEBUG", "SLEEP", "0")).toBe("ERR");
  });

  it("node-ops (password rotation and planned failover, on the node itself) may change users' passwords, masterauth, pause, demote, close clients; nothing else", async () => {
    const admin = await as(masterPort, "admin");
    const dryrun = async (...command: string[]) => {
      const reply = (await admin.call("ACL", "DRYRUN", "node-ops", ...command)) as string;
      return `${command.slice(0, 2).join(" ")}: ${reply === "OK" ? "OK" : "denied"}`;
    };
    const allowed = [
      ["PING"],
      ["ROLE"],
      ["ACL", "USERS"],
      ["ACL", "GETUSER", "app"],
      ["ACL", "SETUSER", "app", `#${"0".repeat(64)}`],
      ["ACL", "SAVE"],
      ["CONFIG", "SET", "masterauth", "x"],
      ["CONFIG", "REWRITE"],
      ["CLIENT", "PAUSE", "1000", "WRITE"],
      ["CLIENT", "UNPAUSE"],
      ["CLIENT", "KILL", "TYPE", "normal"],
      ["REPLICAOF", "10.0.0.1", "6379"],
    ];
    const denied = [
      ["GET", "k"],
      ["SET", "k", "v"],
      ["CONFIG", "GET", "masterauth"],
      ["ACL", "LIST"],
      ["ACL", "LOAD"],
      ["ACL", "DELUSER", "app"],
      ["CLIENT", "LIST"],
      ["FLUSHALL"],
      ["SHUTDOWN"],
      ["INFO"],
      ["SUBSCRIBE", "x"],
    ];
    const outcomes = [];
    for (const command of [...allowed, ...denied]) outcomes.push(await dryrun(...command));
    expect(outcomes).toEqual([
      ...allowed.map((c) => `${c.slice(0, 2).join(" ")}: OK`),
      ...denied.map((c) => `${c.slice(0, 2).join(" ")}: denied`),
    ]);
    // Really logged in, as the rotation script does.
    const ops = await as(masterPort, "node-ops");
    expect(await outcome(ops, "ACL", "SAVE")).toBe("OK");
    expect(await outcome(ops, "GET", "k")).toBe("NOPERM");
  });

  // It may also SENTINEL FAILOVER (the planned failover before a stop; the integration suite runs it): not run here, it would move this test's master.
  it("node-ops on a sentinel: ACL SETUSER, FLUSHCONFIG, the sentinel's own credentials, the instances' addresses and state; nothing else that steers it", async () => {
    const ops = await as(sentinelPort, "node-ops");
    expect(await outcome(ops, "ACL", "USERS")).toBe("reply");
    expect(await outcome(ops, "ACL", "GETUSER", "sentinel-client")).toBe("reply");
    expect(await outcome(ops, "SENTINEL", "FLUSHCONFIG")).toBe("OK");
    expect(await ops.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "main")).toEqual(["127.0.0.1", String(masterPort)]);
    expect(await outcome(ops, "SENTINEL", "REPLICAS", "main")).not.toBe("NOPERM");
    expect(await outcome(ops, "SENTINEL", "SENTINELS", "main")).not.toBe("NOPERM");
    expect(await outcome(ops, "SENTINEL", "MASTER", "main")).not.toBe("NOPERM");
    expect(await outcome(ops, "SENTINEL", "CKQUORUM", "main")).not.toBe("NOPERM");
    expect(await outcome(ops, "INFO", "sentinel")).not.toBe("NOPERM");
    const denied = [
      ["SENTINEL", "REMOVE", "main"],
      ["SENTINEL", "MONITOR", "evil", "10.0.0.1", "6379", "1"],
      ["SENTINEL", "RESET", "*"],
      ["ACL", "DELUSER", "admin"],
      ["ACL", "LIST"],
      ["PUBLISH", "__sentinel__:hello", "x"],
      ["SUBSCRIBE", "x"],
    ];
    const outcomes = [];
    for (const command of denied) outcomes.push(`${command.slice(0, 2).join(" ")}: ${await outcome(ops, ...command)}`);
    expect(outcomes).toEqual(denied.map((command) => `${command.slice(0, 2).join(" ")}: NOPERM`));
  });

  it("the replica logs in to the master as the replication user and replicates", async () => {
    const r = await as(replicaPort, "admin");
    await waitFor("master_link_status:up", async () => /master_link_status:up/.test(await r.info("replication")));
    const m = await as(masterPort, "app");
    // min-replicas-to-write 1: the write is accepted because the replica is connected.
    await waitFor("the master to count its replica", async () => /connected_slaves:1/.test(await m.info("replication")));
    await expect(m.set("k2", "v")).resolves.toBe("OK");
    await waitFor("the write to reach the replica", async () => (await r.get("k2")) === "v");
    // The replication user itself can do nothing else.
    const replication = await as(masterPort, "replication");
    expect(await outcome(replication, "GET", "k2")).toBe("NOPERM");
  });

  it("Sentinel: logs in as the sentinel user; clients discover the master but cannot steer it", async () => {
    const s = await as(sentinelPort);
    expect(await outcome(s, "PING")).toBe("NOAUTH");
    const admin = await as(sentinelPort, "admin");
    // The replica is only known from INFO on the master, which needs the sentinel user.
    const master = async () => {
      const flat = (await admin.call("SENTINEL", "MASTER", "main")) as string[];
      return Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
    };
    await waitFor("Sentinel to discover the replica", async () => (await master())["num-slaves"] === "1");
    expect((await master()).flags).toBe("master");

    const clientUser = await as(sentinelPort, "sentinel-client");
    expect(await clientUser.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "main")).toEqual(["127.0.0.1", String(masterPort)]);
    const steering = [
      ["SENTINEL", "REMOVE", "main"],
      ["SENTINEL", "MONITOR", "evil", "10.0.0.1", "6379", "1"],
      ["SENTINEL", "SET", "main", "down-after-milliseconds", "1"],
      ["SENTINEL", "FAILOVER", "main"],
      ["SENTINEL", "CONFIG", "GET", "*"],
      ["SENTINEL", "RESET", "*"],
      ["PUBLISH", "__sentinel__:hello", "x"],
      ["ACL", "SETUSER", "backdoor", "on", ">x", "+@all"],
    ];
    const outcomes = [];
    for (const command of steering) outcomes.push(`${command.slice(0, 2).join(" ")}: ${await outcome(clientUser, ...command)}`);
    expect(outcomes).toEqual(steering.map((command) => `${command.slice(0, 2).join(" ")}: NOPERM`));
    expect((await master()).name).toBe("main");
  });
});
