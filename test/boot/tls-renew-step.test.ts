// The tls step's `renew` (what the redis-tls-renew timer runs), for real as
// root with openssl certificates and a TLS redis-server on loopback that it
// reloads as node-ops; fetch_secret is a stub that reads files (the
// secret-fetch part's own tests cover the real one), systemctl a stub that
// says which units run and logs what it was asked. The integration suite
// runs the same step on the synthesized nodes, sentinels included.
import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { renderNodeEnv, tlsPart } from "../../lib/boot";
import { testUnlessMissing, toolAvailable } from "../helpers";
import { issueCertificate, makeCa, TestCa, TestCertificate } from "../tls-fixtures";
import { LocalRedis } from "./local-redis";

const STEP = resolve(__dirname, "../../lib/boot/parts/assets/tls.sh");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const ADDRESS = "127.0.0.1";
const FILES = ["node.key", "node.crt", "ca.crt"] as const;

const missing = [
  ...(toolAvailable("openssl", ["version"]) ? [] : ["openssl"]),
  ...(toolAvailable("redis-server") ? [] : ["redis-server"]),
  ...(process.getuid?.() === 0 ? [] : ["root (the step chowns to redis)"]),
  ...(spawnSync("id", ["redis"]).status === 0 ? [] : ["the redis user (apt-get install redis-server)"]),
];
const it = testUnlessMissing(missing.length > 0 ? missing.join(", ") : undefined);

let dir = "";
let ca: TestCa;
let node: TestCertificate;
let renewed: TestCertificate;
let otherKey: TestCertificate;
let expired: TestCertificate;
let nextCa: TestCa;
let nextCaNode: TestCertificate;
let sameKeyCa: TestCa;
let bundle = "";

beforeAll(() => {
  if (missing.length > 0) return;
  dir = mkdtempSync(join(tmpdir(), "tls-renew-"));
  const pki = join(dir, "pki");
  mkdirSync(pki);
  ca = makeCa(pki, "ca");
  node = issueCertificate(ca, "node", [ADDRESS]);
  // A renewal: the same key, a new certificate.
  renewed = issueCertificate(ca, "renewed", [ADDRESS], { key: node.key, commonName: "node" });
  otherKey = issueCertificate(ca, "other", [ADDRESS]);
  expired = issueCertificate(ca, "expired", [ADDRESS], { key: node.key, commonName: "node", days: -1 });
  // A CA rollover: a new CA with its own key, and the node's certificate under it.
  nextCa = makeCa(pki, "next-ca");
  nextCaNode = issueCertificate(nextCa, "next-node", [ADDRESS], { key: node.key, commonName: "node" });
  bundle = join(pki, "bundle.crt");
  writeFileSync(bundle, ca.pem + nextCa.pem);
  // The group's CA re-issued with its own key and subject (Terraform's early renewal of the CA).
  sameKeyCa = makeCa(pki, "ca-reissued", { key: ca.key, commonName: "ca" });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fingerprint = (pem: string) =>
  spawnSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], { input: pem, encoding: "utf8" }).stdout.trim();
const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);
const ownerOf = (path: string) => spawnSync("stat", ["-c", "%U:%G", path], { encoding: "utf8" }).stdout.trim();

interface Stored {
  readonly key: string;
  readonly certificate: string;
  readonly ca: string;
}

/** One node: its TLS directory as the boot left it, a store, node.env, the stubs; `renew` runs the step. */
class Node {
  readonly root: string;
  readonly tlsDir: string;
  readonly store: string;
  readonly systemctlLog: string;
  readonly opsPassword = randomBytes(16).toString("hex");
  redisPort = 0;

  constructor(name: string, stored: Stored, options: { setupDone?: boolean } = {}) {
    this.root = join(dir, name);
    this.tlsDir = join(this.root, "tls");
    this.store = join(this.root, "store");
    this.systemctlLog = join(this.root, "systemctl.log");
    mkdirSync(join(this.root, "state"), { recursive: true });
    mkdirSync(join(this.root, "bin"));
    if (options.setupDone ?? true) writeFileSync(join(this.root, "state", "setup-done"), "");
    writeFileSync(join(this.root, "node-ops.password"), this.opsPassword, { mode: 0o600 });
    // Prints the stored file named by the id's last segment; refuses any store but SSM.
    writeFileSync(join(this.root, "fetch-stub.sh"), `fetch_secret() { [[ $1 == ssm ]] || exit 9; cat "${this.store}/\${2##*/}"; }\n`);
    // systemctl: redis-server runs when REDIS_ACTIVE says so, redis-sentinel never (the integration suite restarts real ones).
    writeFileSync(
      join(this.root, "bin", "systemctl"),
      `#!/bin/bash\necho "$*" >>"${this.systemctlLog}"\n[[ $* == "is-active --quiet redis-server.service" && -e "${this.root}/redis-active" ]]\n`,
      { mode: 0o755 },
    );
    this.put(stored);
    const boot = this.run("prepare");
    if (boot.status !== 0) throw new Error(`the boot's tls step failed: ${boot.stderr}`);
  }

  /** What the secret store holds from now on. */
  put(stored: Stored): void {
    mkdirSync(this.store, { recursive: true });
    copyFileSync(stored.key, join(this.store, "key"));
    copyFileSync(stored.certificate, join(this.store, "certificate"));
    copyFileSync(stored.ca, join(this.store, "ca-certificate"));
  }

  run(command: "prepare" | "renew") {
    const part = tlsPart({
      nodeAddress: ADDRESS,
      material: {
        key: { secretId: "/test/tls/node/key", secretArn: "arn:key" },
        certificate: { secretId: "/test/tls/node/certificate", secretArn: "arn:certificate" },
        caCertificate: { secretId: "/test/tls/ca-certificate", secretArn: "arn:ca" },
      },
    });
    const env = join(this.root, "node.env");
    const overrides = {
      TLS_DIR: this.tlsDir,
      SECRET_FETCH_STEP: join(this.root, "fetch-stub.sh"),
      NODE_OPS_PASSWORD_FILE: join(this.root, "node-ops.password"),
      ...(this.redisPort ? { REDIS_PORT: String(this.redisPort) } : {}),
    };
    writeFileSync(env, renderNodeEnv([{ ...part, env: { ...part.env, ...overrides } }]));
    const result = spawnSync("bash", [STEP, command], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        PATH: `${join(this.root, "bin")}:${process.env.PATH}`,
        REDIS_NODE_LIB: BOOT_LIB,
        REDIS_NODE_ENV: env,
        REDIS_NODE_STATE_DIR: join(this.root, "state"),
      },
    });
    return { status: result.status, stderr: result.stderr };
  }

  /** The three files' content, mode and owner, and the directory's entries. */
  files() {
    return {
      content: FILES.map((f) => readFileSync(join(this.tlsDir, f), "utf8")),
      modes: FILES.map((f) => `${modeOf(join(this.tlsDir, f))} ${ownerOf(join(this.tlsDir, f))}`),
      entries: readdirSync(this.tlsDir).sort(),
    };
  }

  systemctlCalls(): string[] {
    return existsSync(this.systemctlLog) ? readFileSync(this.systemctlLog, "utf8").split("\n").filter(Boolean) : [];
  }
}

const contentOf = (stored: Stored) => [stored.key, stored.certificate, stored.ca].map((f) => readFileSync(f, "utf8"));
const BOOT_MODES = ["600 redis:redis", "644 redis:redis", "644 redis:redis"];
const ENTRIES = ["ca.crt", "node.crt", "node.key"];
let runs = 0;
const newNode = (stored: Stored, options?: { setupDone?: boolean }) => new Node(`node-${runs++}`, stored, options);

describe("the tls step's renew", () => {
  it("unchanged files: does nothing, says so, asks no process to reload", () => {
    const n = newNode({ key: node.key, certificate: node.certificate, ca: ca.certificate });
    const before = n.files();
    const r = n.run("renew");
    expect(r).toEqual({ status: 0, stderr: "tls-renew: key and certificates unchanged\n" });
    expect(n.files()).toEqual(before);
    expect(n.systemctlCalls()).toEqual([]);
  });

  it("before the node's setup has finished: nothing to renew", () => {
    const n = newNode({ key: node.key, certificate: node.certificate, ca: ca.certificate }, { setupDone: false });
    n.put({ key: node.key, certificate: renewed.certificate, ca: ca.certificate });
    expect(n.run("renew")).toEqual({ status: 0, stderr: "tls-renew: this node's setup has not finished: nothing to renew\n" });
    expect(n.files().content).toEqual(contentOf({ key: node.key, certificate: node.certificate, ca: ca.certificate }));
  });

  it("a renewed certificate: replaces the file with the boot's owner and mode; redis-server serves it without a restart", async () => {
    const n = newNode({ key: node.key, certificate: node.certificate, ca: ca.certificate });
    const redis = new LocalRedis(join(n.root, "redis"));
    try {
      mkdirSync(redis.dir);
      const conf = join(redis.dir, "redis.conf");
      writeFileSync(conf, `user default off\nuser node-ops on >${n.opsPassword} -@all +ping +config|set\ntls-auth-clients optional\n`);
      n.redisPort = 17000 + Math.floor(Math.random() * 1000);
      const server = await redis.start(conf, n.redisPort, [], { certificate: join(n.tlsDir, "node.crt"), key: join(n.tlsDir, "node.key"), caCertificate: join(n.tlsDir, "ca.crt") });
      writeFileSync(join(n.root, "redis-active"), "");
      const served = () =>
        fingerprint(spawnSync("openssl", ["s_client", "-connect", `127.0.0.1:${n.redisPort}`, "-CAfile", ca.certificate], { input: "", encoding: "utf8", timeout: 10_000 }).stdout);
      expect(served()).toBe(fingerprint(readFileSync(node.certificate, "utf8")));

      n.put({ key: node.key, certificate: renewed.certificate, ca: ca.certificate });
      const r = n.run("renew");
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/^tls-renew: installed node\.crt in \S+: certificate serial=[0-9A-F]+ notAfter=.* GMT $/m);
      expect(r.stderr).toContain("tls-renew: redis-server reloaded its TLS files (CONFIG SET, no restart)\n");
      expect(n.files()).toEqual({ content: contentOf({ key: node.key, certificate: renewed.certificate, ca: ca.certificate }), modes: BOOT_MODES, entries: ENTRIES });
      expect(served()).toBe(fingerprint(readFileSync(renewed.certificate, "utf8")));
      expect(server.process.exitCode).toBeNull();
      // No sentinel on this node: nothing restarted.
      expect(n.systemctlCalls()).toEqual(["is-active --quiet redis-server.service"]);
    } finally {
      await redis.stop();
    }
  });

  const refused: Array<[string, () => Stored, RegExp]> = [
    ["a key that is not the certificate's", () => ({ key: otherKey.key, certificate: renewed.certificate, ca: ca.certificate }), /the key in \/test\/tls\/node\/key is not the key of the certificate in \/test\/tls\/node\/certificate/],
    ["an expired certificate", () => ({ key: node.key, certificate: expired.certificate, ca: ca.certificate }), /the certificate in \/test\/tls\/node\/certificate is not valid for 127\.0\.0\.1 under the CA in \/test\/tls\/ca-certificate/],
    ["a CA file without the certificate's CA", () => ({ key: node.key, certificate: node.certificate, ca: nextCa.certificate }), /is not valid for 127\.0\.0\.1 under the CA/],
  ];
  for (const [name, stored, message] of refused) {
    it(`refuses ${name}: the current files stay, no process is asked to reload`, () => {
      const n = newNode({ key: node.key, certificate: node.certificate, ca: ca.certificate });
      const before = n.files();
      n.put(stored());
      const r = n.run("renew");
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain("tls-renew: ERROR: the new files were refused; the current ones stay in place\n");
      expect(n.files()).toEqual(before);
      expect(n.systemctlCalls()).toEqual([]);
    });
  }

  it("redis-server does not take the new files up (it does not answer): the previous files go back", () => {
    const n = newNode({ key: node.key, certificate: node.certificate, ca: ca.certificate });
    const before = n.files();
    // Running, says systemd, but nothing answers on the port.
    n.redisPort = 1;
    writeFileSync(join(n.root, "redis-active"), "");
    n.put({ key: node.key, certificate: renewed.certificate, ca: ca.certificate });
    const r = n.run("renew");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tls-renew: redis-server did not reload its TLS files: .+$/m);
    expect(r.stderr).toContain("tls-renew: ERROR: the processes did not take up the new files; the previous ones are back in place\n");
    expect(n.files()).toEqual(before);
  });

  it("CA rollover: the bundle of old and new CA first, then a certificate of the new CA; one of the new CA before its bundle waits a run", () => {
    const n = newNode({ key: node.key, certificate: node.certificate, ca: ca.certificate });
    // Both at once: the node does not trust the new CA yet, so it installs the bundle only.
    n.put({ key: node.key, certificate: nextCaNode.certificate, ca: bundle });
    const first = n.run("renew");
    expect(first.status).toBe(0);
    expect(first.stderr).toContain("tls-renew: WARNING: the new certificate's CA is not in the current CA file: installing the new CA file only, the certificate at a later run\n");
    expect(first.stderr).toMatch(/^tls-renew: installed ca\.crt in /m);
    expect(n.files().content).toEqual(contentOf({ key: node.key, certificate: node.certificate, ca: bundle }));
    // The next run: the bundle is trusted now, the certificate of the new CA follows.
    const second = n.run("renew");
    expect(second.status).toBe(0);
    expect(second.stderr).toMatch(/^tls-renew: installed node\.crt in /m);
    expect(n.files()).toEqual({ content: contentOf({ key: node.key, certificate: nextCaNode.certificate, ca: bundle }), modes: BOOT_MODES, entries: ENTRIES });
    // The old CA retired: its certificates are gone from the node, so the new CA alone is enough.
    n.put({ key: node.key, certificate: nextCaNode.certificate, ca: nextCa.certificate });
    expect(n.run("renew").stderr).toMatch(/^tls-renew: installed ca\.crt in /m);
    expect(n.files().content[2]).toBe(nextCa.pem);
  });

  it("the CA re-issued with its own key: the node's current certificate verifies under it, so the new CA file is installed alone", () => {
    const n = newNode({ key: node.key, certificate: node.certificate, ca: ca.certificate });
    n.put({ key: node.key, certificate: node.certificate, ca: sameKeyCa.certificate });
    const r = n.run("renew");
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain("WARNING");
    expect(n.files().content[2]).toBe(sameKeyCa.pem);
    // And a certificate signed under the re-issued CA verifies under the old one, which the other nodes hold until their own run.
    const underNew = issueCertificate(sameKeyCa, "under-reissued", [ADDRESS]);
    expect(spawnSync("openssl", ["verify", "-CAfile", ca.certificate, underNew.certificate], { encoding: "utf8" }).status).toBe(0);
  });
});
