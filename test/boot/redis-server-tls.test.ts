// The rendered redis.conf and sentinel.conf with TLS, on this machine's
// redis-server and redis-sentinel, with openssl certificates for 127.0.0.1:
// TLS only, verified against the group's CA, replication and Sentinel over
// TLS, client certificates when required, and the boot's own PING check.
import { spawnSync } from "child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import { checkServerIdentity, PeerCertificate } from "tls";
import { join } from "path";
import { Redis, RedisOptions } from "ioredis";
import { BUILTIN_USERS, dataNodeUsers, NODE_OPS_USER, renderAclFile, renderRedisConf, renderSentinelConf } from "../../lib/boot";
import { resolveRedisConf, resolveSentinelConf } from "../../lib/options";
import { rulesOf } from "../../lib/private/planner";
import { freePort, testUnlessMissing, toolAvailable } from "../helpers";
import { issueCertificate, makeCa, TestCa, TestCertificate } from "../tls-fixtures";
import { REDIS_HELPERS_SCRIPT, LocalRedis, LocalTlsFiles } from "./local-redis";

const USERS = [...Object.values(BUILTIN_USERS), NODE_OPS_USER, "app"];
const PASSWORDS = Object.fromEntries(USERS.map((user) => [user, `tls ${user} "pw" #1`]));
const missing = ["redis-server", "openssl"].filter((t) => !toolAvailable(t, t === "openssl" ? ["version"] : ["--version"]));
const it = testUnlessMissing(missing.length > 0 ? `${missing.join(", ")} not installed` : undefined);

let local: LocalRedis | undefined;
let ca: TestCa;
let otherCa: TestCa;
/** The node's TLS directory, laid out as the tls part leaves it. */
let tlsFiles: LocalTlsFiles & { dir: string };
let clientCertificate: TestCertificate;
let strangerCertificate: TestCertificate;
const ports = { master: 0, replica: 0, sentinel: 0, strict: 0 };

/**
 * One attempt, no reconnects: every refusal shows. ioredis arms a
 * disconnectTimeout timer that a socket the server already closed never
 * clears: kept short, so jest exits on time.
 */
function connectOptions(port: number, extra: RedisOptions = {}): RedisOptions {
  return {
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    connectTimeout: 2000,
    disconnectTimeout: 100,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    ...extra,
  };
}

/**
 * PING as `user` (or none), over TLS when `tls` is given: "PONG" or the
 * error's message. A failed handshake reaches ioredis's 'error' event, its
 * promise only says the connection closed: the first error wins.
 */
async function ping(port: number, user: string | undefined, tls?: RedisOptions["tls"]): Promise<string> {
  const auth = user ? { username: user, password: PASSWORDS[user] } : {};
  const client = local!.track(new Redis(connectOptions(port, { tls, ...auth })));
  let firstError: string | undefined;
  client.on("error", (e: Error) => (firstError ??= e.message));
  try {
    await client.connect();
    return await client.ping();
  } catch (e) {
    return firstError ?? (e as Error).message;
  } finally {
    client.disconnect();
  }
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("rendered configuration with TLS on a real redis-server and redis-sentinel", () => {
  beforeAll(async () => {
    if (missing.length > 0) return;
    local = new LocalRedis(mkdtempSync(join(tmpdir(), "redis-tls-")));
    const pki = join(local.dir, "pki");
    mkdirSync(pki);
    ca = makeCa(pki, "group-ca");
    otherCa = makeCa(pki, "other-ca");
    const node = issueCertificate(ca, "node", ["127.0.0.1"]);
    clientCertificate = issueCertificate(ca, "client", []);
    strangerCertificate = issueCertificate(otherCa, "stranger", []);
    const dir = join(local.dir, "tls");
    mkdirSync(dir);
    tlsFiles = { dir, certificate: join(dir, "node.crt"), key: join(dir, "node.key"), caCertificate: join(dir, "ca.crt") };
    copyFileSync(node.certificate, tlsFiles.certificate);
    copyFileSync(node.key, tlsFiles.key);
    copyFileSync(ca.certificate, tlsFiles.caCertificate);

    ports.master = await freePort();
    ports.replica = await freePort();
    ports.sentinel = await freePort();
    ports.strict = await freePort();
    const render = (name: string, text: string) => local!.renderWithBootScript(name, text, PASSWORDS, ["admin", "app"]);
    const acl = ["--aclfile", render("users.acl", renderAclFile(dataNodeUsers([{ name: "app", rules: rulesOf({ name: "app" }) }], true)))];
    const tls = { requireClientCertificates: false };
    const node127 = { nodeAddress: "127.0.0.1", maxMemory: "64mb", ioThreads: 1, tls };
    const redis = { minReplicasToWrite: 1 };
    const masterConf = render("master.conf", renderRedisConf(resolveRedisConf({ ...redis, port: ports.master }, node127)));
    const replicaConf = render(
      "replica.conf",
      renderRedisConf(resolveRedisConf({ ...redis, port: ports.replica }, { ...node127, masterAddress: "127.0.0.1", masterPort: ports.master })),
    );
    const sentinelConf = render(
      "sentinel.conf",
      renderSentinelConf(resolveSentinelConf({ port: ports.sentinel }, { nodeAddress: "127.0.0.1", masterAddress: "127.0.0.1", masterPort: ports.master, defaultQuorum: 1, tls })),
    );
    const strictConf = render(
      "strict.conf",
      renderRedisConf(resolveRedisConf({ port: ports.strict }, { ...node127, tls: { requireClientCertificates: true } })),
    );
    // Only the 5 s wait of diskless sync is shortened, to keep the test fast.
    await local.start(masterConf, ports.master, ["--repl-diskless-sync-delay", "0", ...acl], tlsFiles);
    await local.start(replicaConf, ports.replica, acl, tlsFiles);
    await local.start(sentinelConf, ports.sentinel, ["--sentinel"], tlsFiles);
    await local.start(strictConf, ports.strict, acl, tlsFiles);
  }, 60_000);

  afterAll(async () => {
    await local?.stop();
  });

  it("a plaintext connection gets no Redis reply: there is no plaintext port", async () => {
    for (const port of [ports.master, ports.sentinel]) {
      const reply = await ping(port, "app");
      expect({ port, reply }).not.toEqual({ port, reply: "PONG" });
      expect(reply).not.toMatch(/NOAUTH|WRONGPASS|NOPERM/);
    }
  });

  it("a TLS client without the group's CA fails to verify the node: with the system's CAs, and with another CA", async () => {
    for (const port of [ports.master, ports.sentinel]) {
      expect(await ping(port, "app", {})).toMatch(/self-signed certificate in certificate chain|unable to (get local issuer certificate|verify the first certificate)/);
      expect(await ping(port, "app", { ca: otherCa.pem })).toMatch(/self-signed certificate in certificate chain|unable to (get local issuer certificate|verify the first certificate)/);
    }
  });

  it("the client checks the node's address against the certificate (its IP SAN)", async () => {
    const asLocalhost = { ca: ca.pem, checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity("localhost", cert) };
    expect(await ping(ports.master, "app", asLocalhost)).toMatch(/Hostname\/IP does not match certificate's altnames: Host: localhost/);
    expect(await ping(ports.master, "app", { ca: ca.pem })).toBe("PONG");
  });

  it("ioredis over TLS with the group's CA and the app user writes and reads", async () => {
    const client = local!.track(new Redis(connectOptions(ports.master, { tls: { ca: ca.pem }, username: "app", password: PASSWORDS.app })));
    await client.connect();
    expect(await client.set("tls:k", "v")).toBe("OK");
    expect(await client.get("tls:k")).toBe("v");
    const info = (await client.call("CLIENT", "INFO")) as string;
    expect(info).toMatch(/ user=app /);
  });

  it("the replica replicates over TLS (tls-replication): the master has no other port", async () => {
    const admin = local!.track(new Redis(connectOptions(ports.replica, { tls: { ca: ca.pem }, username: "admin", password: PASSWORDS.admin })));
    await admin.connect();
    await waitFor("master_link_status:up", async () => (/master_link_status:up/.test(await admin.info("replication")) ? true : undefined));
    const writer = local!.track(new Redis(connectOptions(ports.master, { tls: { ca: ca.pem }, username: "app", password: PASSWORDS.app })));
    await writer.connect();
    await waitFor("the master to count its replica", async () => (/connected_slaves:1/.test(await writer.info("replication")) ? true : undefined));
    await writer.set("tls:replicated", "yes");
    expect(await waitFor("the write on the replica", async () => (await admin.get("tls:replicated")) ?? undefined)).toBe("yes");
  });

  it("Sentinel over TLS reaches the master, discovers the replica, and serves a Sentinel-aware client over TLS", async () => {
    const admin = local!.track(new Redis(connectOptions(ports.sentinel, { tls: { ca: ca.pem }, username: "admin", password: PASSWORDS.admin })));
    await admin.connect();
    const master = async () => {
      const flat = (await admin.call("SENTINEL", "MASTER", "main")) as string[];
      return Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
    };
    await waitFor("Sentinel to discover the replica over TLS", async () => ((await master())["num-slaves"] === "1" ? true : undefined));
    expect((await master()).flags).toBe("master");
    // As the README's ioredis snippet: TLS to the sentinels and to the master they name.
    const client = local!.track(
      new Redis({
        sentinels: [{ host: "127.0.0.1", port: ports.sentinel }],
        name: "main",
        username: "app",
        password: PASSWORDS.app,
        sentinelUsername: BUILTIN_USERS.sentinelClient,
        sentinelPassword: PASSWORDS[BUILTIN_USERS.sentinelClient],
        tls: { ca: ca.pem },
        sentinelTLS: { ca: ca.pem },
        enableTLSForSentinelMode: true,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        sentinelRetryStrategy: () => null,
      }),
    );
    await client.connect();
    expect(await client.set("tls:through-sentinel", "1")).toBe("OK");
    expect(((await client.call("CLIENT", "INFO")) as string).match(/laddr=([\d.:]+)/)?.[1]).toBe(`127.0.0.1:${ports.master}`);
  });

  it("requireClientCertificates: no certificate or one of another CA is refused; one of the group's CA logs in", async () => {
    expect(await ping(ports.strict, "app", { ca: ca.pem })).not.toBe("PONG");
    const foreign = { ca: ca.pem, cert: readFileSync(strangerCertificate.certificate), key: readFileSync(strangerCertificate.key) };
    expect(await ping(ports.strict, "app", foreign)).not.toBe("PONG");
    const own = { ca: ca.pem, cert: readFileSync(clientCertificate.certificate), key: readFileSync(clientCertificate.key) };
    expect(await ping(ports.strict, "app", own)).toBe("PONG");
    // A certificate is no login: the user and password are still needed.
    expect(await ping(ports.strict, undefined, own)).toMatch(/NOAUTH/);
  });

  it("the boot's PING check (wait_for_pong) passes over TLS with the node's certificate, also where client certificates are required", () => {
    for (const port of [ports.master, ports.strict, ports.sentinel]) {
      const user = port === ports.sentinel ? BUILTIN_USERS.sentinelPeer : BUILTIN_USERS.replication;
      const run = spawnSync("bash", ["-c", 'source "$1" && wait_for_pong "$2" "$3"', "_", REDIS_HELPERS_SCRIPT, String(port), user], {
        encoding: "utf8",
        timeout: 40_000,
        env: { ...process.env, TLS_DIR: tlsFiles.dir, REDISCLI_AUTH: PASSWORDS[user] },
      });
      expect({ port, status: run.status, stderr: run.stderr }).toEqual({ port, status: 0, stderr: expect.stringMatching(/answers PING \(attempt 1\)/) });
    }
  }, 60_000);
});
