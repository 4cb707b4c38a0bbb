// The tls boot step, run for real (as root, it chowns to the redis user)
// with openssl certificates; fetch_secret is replaced by a stub that reads
// files, the secret-fetch part's own tests cover the real one.
import { spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { renderNodeEnv, tlsPart } from "../../lib/boot";
import { testUnlessMissing, toolAvailable } from "../helpers";
import { issueCertificate, makeCa, TestCa, TestCertificate } from "../tls-fixtures";

const STEP = resolve(__dirname, "../../lib/boot/parts/assets/tls.sh");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const ADDRESS = "127.0.0.1";

const missing = [
  ...(toolAvailable("openssl", ["version"]) ? [] : ["openssl"]),
  ...(process.getuid?.() === 0 ? [] : ["root (the step chowns to redis)"]),
  ...(spawnSync("id", ["redis"]).status === 0 ? [] : ["the redis user (apt-get install redis-server)"]),
];
const it = testUnlessMissing(missing.length > 0 ? missing.join(", ") : undefined);

let dir = "";
let ca: TestCa;
let otherCa: TestCa;
let node: TestCertificate;
let otherNode: TestCertificate;
let foreign: TestCertificate;
let wrongAddress: TestCertificate;

beforeAll(() => {
  if (spawnSync("openssl", ["version"]).status !== 0) return;
  dir = mkdtempSync(join(tmpdir(), "tls-step-"));
  mkdirSync(join(dir, "pki"));
  ca = makeCa(join(dir, "pki"), "ca");
  otherCa = makeCa(join(dir, "pki"), "other-ca");
  node = issueCertificate(ca, "node", [ADDRESS]);
  otherNode = issueCertificate(ca, "other-node", [ADDRESS]);
  foreign = issueCertificate(otherCa, "foreign", [ADDRESS]);
  wrongAddress = issueCertificate(ca, "elsewhere", ["10.1.2.3"]);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `tls.sh prepare` with the store holding these files under the node's parameter names. */
function prepare(run: string, stored: { key: string; certificate: string; ca: string }) {
  const root = join(dir, run);
  const store = join(root, "store");
  mkdirSync(store, { recursive: true });
  writeFileSync(join(store, "key"), readFileSync(stored.key));
  writeFileSync(join(store, "certificate"), readFileSync(stored.certificate));
  writeFileSync(join(store, "ca-certificate"), readFileSync(stored.ca));
  // Prints the stored file named by the id's last segment; refuses any store but SSM.
  const stub = join(root, "fetch-stub.sh");
  writeFileSync(stub, `fetch_secret() { [[ $1 == ssm ]] || exit 9; cat "${store}/\${2##*/}"; }\n`);
  const part = tlsPart({
    nodeAddress: ADDRESS,
    material: {
      key: { secretId: "/test/tls/node/key", secretArn: "arn:key" },
      certificate: { secretId: "/test/tls/node/certificate", secretArn: "arn:certificate" },
      caCertificate: { secretId: "/test/tls/ca-certificate", secretArn: "arn:ca" },
    },
  });
  const tlsDir = join(root, "tls");
  const env = join(root, "node.env");
  writeFileSync(env, renderNodeEnv([{ ...part, env: { ...part.env, TLS_DIR: tlsDir, SECRET_FETCH_STEP: stub } }]));
  const result = spawnSync("bash", [STEP, "prepare"], {
    encoding: "utf8",
    timeout: 20_000,
    env: { ...process.env, REDIS_NODE_LIB: BOOT_LIB, REDIS_NODE_ENV: env },
  });
  return { status: result.status, stderr: result.stderr, tlsDir };
}

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);
const ownerOf = (path: string) => spawnSync("stat", ["-c", "%U:%G", path], { encoding: "utf8" }).stdout.trim();

describe("the tls boot step", () => {
  it("writes the node's key (0600) and certificates (0644), owned by redis, after checking them", () => {
    const r = prepare("good", { key: node.key, certificate: node.certificate, ca: ca.certificate });
    expect(r).toMatchObject({ status: 0, stderr: expect.stringContaining(`TLS key and certificates for ${ADDRESS}`) });
    const files = ["node.key", "node.crt", "ca.crt"].map((f) => join(r.tlsDir, f));
    expect(files.map(modeOf)).toEqual(["600", "644", "644"]);
    expect([r.tlsDir, ...files].map(ownerOf)).toEqual(Array(4).fill("redis:redis"));
    expect(modeOf(r.tlsDir)).toBe("750");
    expect(readFileSync(files[0], "utf8")).toBe(readFileSync(node.key, "utf8"));
    expect(readFileSync(files[2], "utf8")).toBe(ca.pem);
    // Only the three files: no temporary file left behind.
    expect(spawnSync("ls", ["-A", r.tlsDir], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).sort()).toEqual(["ca.crt", "node.crt", "node.key"]);
  });

  const failures: Array<[string, () => { key: string; certificate: string; ca: string }, RegExp]> = [
    ["a key that is not the certificate's", () => ({ key: otherNode.key, certificate: node.certificate, ca: ca.certificate }), /the key in \/test\/tls\/node\/key is not the key of the certificate/],
    ["a certificate of another CA", () => ({ key: foreign.key, certificate: foreign.certificate, ca: ca.certificate }), /is not valid for 127\.0\.0\.1 under the CA in \/test\/tls\/ca-certificate/],
    ["a certificate for another address", () => ({ key: wrongAddress.key, certificate: wrongAddress.certificate, ca: ca.certificate }), /is not valid for 127\.0\.0\.1/],
  ];
  for (const [name, stored, message] of failures) {
    it(`fails the boot on ${name}, naming the parameters`, () => {
      const r = prepare(name.replace(/\W+/g, "-"), stored());
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
    });
  }
});
