// fetch_secret of the boot script, run for real against a fake AWS on loopback:
// IMDSv2 plus the SSM / Secrets Manager JSON APIs, which verify curl's SigV4 themselves.
import { execFileSync, spawn } from "child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { createServer } from "http";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { FakeAws, SignedRequest, verifySigV4 } from "../support/fake-aws";

const SCRIPT = resolve(__dirname, "../../lib/boot/parts/assets/secret-fetch.sh");
// The part sources the shared functions from here.
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const REGION = "eu-west-1";
const ROLE = "redis-node-role";
const CREDS = { AccessKeyId: "ASIAFAKEKEY000000001", SecretAccessKey: "fAkE/Secret+Key/0123456789abcdefghijKLMN", Token: "IQoJb3JpZ2luX2VjEFAKE/session+token==" };
// Space, both quotes, '#', '&', '$', backslashes and non-ASCII.
const PASSWORD = `p a"s's\\w#r&d$HOME é ✓ \\"`;
const SECRET_STRING = `{"password": "s3 cr#t&\\\\"} ünï`;

const stored = { ssm: new Map([["/redis/prod/password", PASSWORD]]), secretsmanager: new Map([["redis/prod", SECRET_STRING]]) };
const aws = new FakeAws({ region: REGION, role: ROLE, creds: CREDS, stored, apiPath: "/aws/" });
let fake = aws.state;

const server = createServer(aws.listener());
// A `curl` first on PATH that logs each argv (NUL-separated, one line per call), then runs the real one.
// (Scanning /proc/*/cmdline cannot catch `--user key:secret`: curl blanks that argument once parsed.)
const shimDir = mkdtempSync(join(tmpdir(), "secret-fetch-"));
const ARGV_LOG = join(shimDir, "curl-argv.log");
let base = "";
beforeAll(async () => {
  const realCurl = execFileSync("bash", ["-c", "command -v curl"], { encoding: "utf8" }).trim();
  writeFileSync(join(shimDir, "curl"), `#!/bin/bash\nprintf '%s\\0' "$@" >>"${ARGV_LOG}"; echo >>"${ARGV_LOG}"\nexec ${realCurl} "$@"\n`);
  chmodSync(join(shimDir, "curl"), 0o755);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  rmSync(shimDir, { recursive: true, force: true });
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
});
beforeEach(() => { fake = aws.reset(); writeFileSync(ARGV_LOG, ""); });
const curlCalls = () => readFileSync(ARGV_LOG, "utf8").split("\n").filter(Boolean).map((argv) => argv.replace(/\0/g, " "));
const leaksCredentials = (argv: string) => argv.includes(CREDS.SecretAccessKey) || argv.includes(CREDS.Token);

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
/** Runs a command (killed after 90 s: ten attempts of curl and python3 are slow on a loaded machine) with the script's endpoints pointed at the fake. */
function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(args[0], args.slice(1), { timeout: 90_000, killSignal: "SIGKILL", env: { ...process.env,
      PATH: `${shimDir}:${process.env.PATH}`, REDIS_NODE_IMDS_URL: base, REDIS_NODE_AWS_ENDPOINT: `${base}/aws/`, REDIS_NODE_SECRET_RETRY_SECONDS: "0", REDIS_NODE_LIB: BOOT_LIB, NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1", ...extraEnv } });
    let stdout = "", stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", fail).on("close", (code, signal) => done({ code, signal, stdout, stderr }));
  });
}
// "_" as $0: with the script itself as $0, BASH_SOURCE[0] == $0 and sourcing would run the part.
const fetchSecret = (store: string, id: string) => run(["bash", "-c", 'source "$1" && fetch_secret "$2" "$3"', "_", SCRIPT, store, id]);

// Ten attempts, each a few curl and python3 starts: slow when the machine is busy (each run is still killed after 90 s).
jest.setTimeout(120_000);

describe("the fake's SigV4 verifier", () => {
  // AWS SigV4 test suite, get-vanilla and post-vanilla (same request, method POST).
  const vanilla = (method: string, signature: string): SignedRequest => ({ method, path: "/", query: "", body: "",
    headers: { host: ["example.amazonaws.com"], "x-amz-date": ["20150830T123600Z"],
      authorization: [`AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`] } });
  const KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

  it("accepts the published AWS test vectors", () => {
    expect(verifySigV4(vanilla("GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"), KEY))
      .toMatchObject({ accessKeyId: "AKIDEXAMPLE", region: "us-east-1", service: "service", signedHeaders: ["host", "x-amz-date"] });
    expect(() => verifySigV4(vanilla("POST", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"), KEY)).not.toThrow();
  });

  it("rejects a wrong key, method or body", () => {
    const get = vanilla("GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    expect(() => verifySigV4(get, KEY.replace("w", "W"))).toThrow(/does not match/);
    expect(() => verifySigV4({ ...get, method: "POST" }, KEY)).toThrow(/does not match/);
    expect(() => verifySigV4({ ...get, body: "x" }, KEY)).toThrow(/does not match/);
  });
});

describe("fetch_secret against a fake IMDSv2 and AWS", () => {
  it("ssm: prints exactly the stored password, asks for decryption, always sends the IMDSv2 token", async () => {
    const r = await fetchSecret("ssm", "/redis/prod/password");
    expect(r).toMatchObject({ code: 0, stdout: PASSWORD });
    expect(fake.inputs).toEqual([{ Name: "/redis/prod/password", WithDecryption: true }]);
    expect(fake).toMatchObject({ tokenPuts: 1, tokenless: 0, apiCalls: 1, rejected: [] });
    // The fake does enforce IMDSv2: a token-less metadata read is refused.
    const v1 = await run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", `${base}/latest/meta-data/placement/region`]);
    expect(v1.stdout).toBe("401");
  });

  it("secretsmanager: prints exactly the SecretString", async () => {
    const r = await fetchSecret("secretsmanager", "redis/prod");
    expect(r).toMatchObject({ code: 0, stdout: SECRET_STRING });
    expect(fake.inputs).toEqual([{ SecretId: "redis/prod" }]);
    expect(fake).toMatchObject({ tokenless: 0, rejected: [] });
  });

  it("never puts the credentials on a command line", async () => {
    // Control: the log does catch credentials given on argv.
    await run(["curl", "-s", "--user", `${CREDS.AccessKeyId}:${CREDS.SecretAccessKey}`, "--aws-sigv4", `aws:amz:${REGION}:ssm`, "--data", "{}", `${base}/aws/`]);
    expect(curlCalls().map(leaksCredentials)).toEqual([true]);
    writeFileSync(ARGV_LOG, "");
    expect((await fetchSecret("ssm", "/redis/prod/password")).code).toBe(0);
    const calls = curlCalls();
    expect(calls).toHaveLength(5); // token, region, role, credentials, GetParameter
    expect(calls.filter((argv) => argv.includes("--aws-sigv4"))).toHaveLength(1);
    expect(calls.filter(leaksCredentials)).toEqual([]);
  });

  it("fails after exactly 10 attempts when the signature does not verify", async () => {
    fake.verifyWithSecret = "not-the-key-the-instance-got";
    const r = await fetchSecret("ssm", "/redis/prod/password");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("cannot read the secret from ssm");
    expect(fake.apiCalls).toBe(10);
    expect(fake.rejected).toHaveLength(10);
    expect(fake.rejected[0]).toMatch(/^InvalidSignatureException: The request signature we calculated does not match/);
  });

  it("fails after 10 attempts when the instance has no IAM role", async () => {
    fake.hasRole = false;
    const r = await fetchSecret("ssm", "/redis/prod/password");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot read the secret from ssm '/redis/prod/password': the instance has no IAM role");
    expect(fake.tokenPuts).toBe(10);
    expect(fake.apiCalls).toBe(0);
  });

  it("waits for a role that shows up in metadata late", async () => {
    fake.roleFromAttempt = 3;
    const r = await fetchSecret("ssm", "/redis/prod/password");
    expect(r).toMatchObject({ code: 0, stdout: PASSWORD });
    expect(r.stderr.match(/\(attempt \d+ of 10\): the instance has no IAM role/g)).toHaveLength(2);
    expect(fake).toMatchObject({ tokenPuts: 3, apiCalls: 1 });
  });
});

describe("fetch_all: every secret of the node's list", () => {
  const dir = mkdtempSync(join(tmpdir(), "fetch-all-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fetchAll = (list: string) => {
    writeFileSync(join(dir, "secrets.list"), list);
    return run(["bash", "-c", 'source "$1" && fetch_all "$2"', "_", SCRIPT, join(dir, "secrets.list")], { REDIS_NODE_SECRETS_DIR: join(dir, "secrets") });
  };

  it("writes each secret into its own private file, reading the role's credentials once for all of them", async () => {
    const r = await fetchAll("admin password ssm /redis/prod/password\napp password secretsmanager redis/prod\nreplication sha256 ssm /redis/prod/password\n");
    expect(r).toMatchObject({ code: 0, stderr: "redis-node-setup: read 3 secrets\n" });
    expect(readFileSync(join(dir, "secrets", "admin.password"), "utf8")).toBe(PASSWORD);
    expect(readFileSync(join(dir, "secrets", "app.password"), "utf8")).toBe(SECRET_STRING);
    expect(readFileSync(join(dir, "secrets", "replication.sha256"), "utf8")).toBe(PASSWORD);
    expect(statSync(join(dir, "secrets", "app.password")).mode & 0o777).toBe(0o600);
    expect(fake).toMatchObject({ tokenPuts: 1, tokenless: 0, apiCalls: 3, rejected: [] });
    expect(curlCalls()).toHaveLength(4 + 3); // token, region, role, credentials once; then one call a secret
  });

  it("still reads every secret when the instance has no role at the first read of the credentials", async () => {
    fake.roleFromAttempt = 2;
    const r = await fetchAll("admin password ssm /redis/prod/password\napp password secretsmanager redis/prod\n");
    expect(r.code).toBe(0);
    // The first read finds no role and keeps nothing: each secret's read (a subshell) then reads the credentials itself.
    expect(fake).toMatchObject({ tokenPuts: 3, apiCalls: 2, rejected: [] });
  });
});

describe("node_ops_password: the node-ops user's password, made on the node", () => {
  const dir = mkdtempSync(join(tmpdir(), "node-ops-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const make = (file: string, secrets: string) =>
    run(["bash", "-c", 'mkdir -p "$REDIS_NODE_SECRETS_DIR" && source "$1" && node_ops_password "$2"', "_", SCRIPT, file], { REDIS_NODE_SECRETS_DIR: secrets });

  it("at the first boot: 32 random bytes in hex, root only, and a copy among the boot's secrets for render_template", async () => {
    const file = join(dir, "node-ops.password");
    expect((await make(file, join(dir, "secrets-1"))).code).toBe(0);
    const password = readFileSync(file, "utf8");
    expect(password).toMatch(/^[0-9a-f]{64}$/);
    expect((statSync(file).mode & 0o777).toString(8)).toBe("600");
    expect(readFileSync(join(dir, "secrets-1", "node-ops.password"), "utf8")).toBe(password);
    // Another node (another file) gets another one.
    expect((await make(join(dir, "other.password"), join(dir, "secrets-other"))).code).toBe(0);
    expect(readFileSync(join(dir, "other.password"), "utf8")).not.toBe(password);
  });

  it("a boot run again keeps the password the configs hold", async () => {
    const file = join(dir, "node-ops.password");
    const first = readFileSync(file, "utf8");
    expect((await make(file, join(dir, "secrets-2"))).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(first);
    expect(readFileSync(join(dir, "secrets-2", "node-ops.password"), "utf8")).toBe(first);
  });
});
