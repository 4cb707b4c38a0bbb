// fetch_secret of the boot script, run for real against a fake AWS on loopback:
// IMDSv2 plus the SSM / Secrets Manager JSON APIs, which verify curl's SigV4 themselves.
import { execFileSync, spawn } from "child_process";
import { createHash, createHmac, randomBytes } from "crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { createServer, IncomingMessage, ServerResponse } from "http";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import { join, resolve } from "path";

const SCRIPT = resolve(__dirname, "../../lib/boot/parts/assets/secret-fetch.sh");
// The part sources the shared functions from here.
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const REGION = "eu-west-1";
const ROLE = "redis-node-role";
const CREDS = { AccessKeyId: "ASIAFAKEKEY000000001", SecretAccessKey: "fAkE/Secret+Key/0123456789abcdefghijKLMN", Token: "IQoJb3JpZ2luX2VjEFAKE/session+token==" };
const JSON_TYPE = "application/x-amz-json-1.1";
// Space, both quotes, '#', '&', '$', backslashes and non-ASCII.
const PASSWORD = `p a"s's\\w#r&d$HOME é ✓ \\"`;
const SECRET_STRING = `{"password": "s3 cr#t&\\\\"} ünï`;

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

interface SignedRequest { method: string; path: string; query: string; headers: Record<string, string[]>; body: string | Buffer }

/** Checks the request's Authorization header per AWS SigV4 (header form); throws why it is wrong.
 * The path is used as sent (already URI-encoded); our paths need no normalisation. */
function verifySigV4(req: SignedRequest, secretKey: string) {
  const auth = req.headers.authorization?.[0] ?? "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) throw new Error(`malformed Authorization header: ${auth}`);
  const [, accessKeyId, date, region, service, signed, signature] = m;
  const amzDate = req.headers["x-amz-date"]?.[0] ?? "";
  if (!amzDate.startsWith(date)) throw new Error(`X-Amz-Date ${amzDate} is not in the credential scope date ${date}`);
  const signedHeaders = signed.split(";");
  if (!signedHeaders.includes("host")) throw new Error("host is not signed");
  const canonicalHeaders = signedHeaders.map((name) => {
    const values = req.headers[name];
    if (!values) throw new Error(`signed header ${name} is missing`);
    return `${name}:${values.map((v) => v.trim().replace(/\s+/g, " ")).join(",")}\n`;
  });
  const query = req.query.split("&").filter(Boolean).map((p) => (p.includes("=") ? p : `${p}=`).split("="))
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0)).map((kv) => kv.join("=")).join("&");
  const canonicalRequest = [req.method, req.path, query, canonicalHeaders.join(""), signed, sha256(req.body)].join("\n");
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, `${date}/${region}/${service}/aws4_request`, sha256(canonicalRequest)].join("\n");
  const key = [date, region, service, "aws4_request"].reduce<Buffer | string>((k, part) => hmac(k, part), `AWS4${secretKey}`);
  if (hmac(key, stringToSign).toString("hex") !== signature) throw new Error("The request signature we calculated does not match the signature you provided.");
  return { accessKeyId, region, service, signedHeaders, amzDate };
}

const IMDS_TOKEN = randomBytes(24).toString("base64");
const stored = { ssm: new Map([["/redis/prod/password", PASSWORD]]), secretsmanager: new Map([["redis/prod", SECRET_STRING]]) };
let fake = newFakeState();
function newFakeState() {
  // roleFromAttempt: the role shows up in metadata from that attempt on (a new instance profile takes a while).
  return { verifyWithSecret: CREDS.SecretAccessKey, hasRole: true, roleFromAttempt: 1, tokenPuts: 0, tokenless: 0, apiCalls: 0, rejected: [] as string[],
    inputs: [] as Record<string, unknown>[] };
}

function handle(req: IncomingMessage, res: ServerResponse, body: string) {
  const url = new URL(req.url ?? "/", "http://fake");
  const send = (status: number, data: string | object, type = "text/plain") => {
    res.writeHead(status, { "Content-Type": type }).end(typeof data === "string" ? data : JSON.stringify(data));
  };
  if (url.pathname === "/latest/api/token") {
    if (req.method !== "PUT" || !req.headers["x-aws-ec2-metadata-token-ttl-seconds"]) return send(400, "Bad Request");
    fake.tokenPuts++;
    return send(200, IMDS_TOKEN);
  }
  if (url.pathname.startsWith("/latest/meta-data/")) {
    if (req.headers["x-aws-ec2-metadata-token"] !== IMDS_TOKEN) { fake.tokenless++; return send(401, "Unauthorized"); }
    const path = url.pathname.slice("/latest/meta-data/".length);
    if (path === "placement/region") return send(200, REGION);
    const role = fake.hasRole && fake.tokenPuts >= fake.roleFromAttempt;
    if (role && path === "iam/security-credentials/") return send(200, ROLE);
    if (role && path === `iam/security-credentials/${ROLE}`) {
      const now = new Date();
      return send(200, JSON.stringify({ Code: "Success", LastUpdated: now.toISOString(), Type: "AWS-HMAC", ...CREDS,
        Expiration: new Date(now.getTime() + 6 * 3600e3).toISOString() }, null, 2));
    }
    return send(404, "<html><body><h1>404 - Not Found</h1></body></html>", "text/html");
  }
  if (url.pathname !== "/aws/" || req.method !== "POST") return send(404, "Not Found");
  fake.apiCalls++;
  const error = (type: string, message: string) => { fake.rejected.push(`${type}: ${message}`); send(400, { __type: type, message }, JSON_TYPE); };
  let scope: ReturnType<typeof verifySigV4>;
  try {
    scope = verifySigV4({ method: req.method, path: url.pathname, query: url.search.slice(1), headers: req.headersDistinct as Record<string, string[]>, body }, fake.verifyWithSecret);
  } catch (e) { return error("InvalidSignatureException", (e as Error).message); }
  const target = req.headers["x-amz-target"];
  const service = target === "AmazonSSM.GetParameter" ? "ssm" : target === "secretsmanager.GetSecretValue" ? "secretsmanager" : undefined;
  if (!service) return error("UnknownOperationException", `unknown X-Amz-Target ${target}`);
  if (scope.region !== REGION || scope.service !== service) return error("InvalidSignatureException", `Credential should be scoped to ${REGION}/${service}`);
  if (scope.accessKeyId !== CREDS.AccessKeyId) return error("UnrecognizedClientException", "The security token included in the request is invalid.");
  if (req.headers["x-amz-security-token"] !== CREDS.Token || !scope.signedHeaders.includes("x-amz-security-token")) return error("UnrecognizedClientException", "missing, wrong or unsigned x-amz-security-token");
  if (req.headers["content-type"] !== JSON_TYPE) return error("SerializationException", `Content-Type ${req.headers["content-type"]}`);
  const isoDate = scope.amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z");
  if (!(Math.abs(Date.now() - Date.parse(isoDate)) < 5 * 60e3)) return error("InvalidSignatureException", "Signature expired");
  let input: Record<string, unknown>;
  try { input = JSON.parse(body); } catch { return error("SerializationException", "body is not JSON"); }
  fake.inputs.push(input);
  if (service === "ssm") {
    const value = stored.ssm.get(String(input.Name));
    if (value === undefined || input.WithDecryption !== true) return error("ParameterNotFound", "");
    return send(200, { Parameter: { Name: input.Name, Type: "SecureString", Value: value, Version: 1, DataType: "text" } }, JSON_TYPE);
  }
  const secret = stored.secretsmanager.get(String(input.SecretId));
  if (secret === undefined) return error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
  return send(200, { ARN: `arn:aws:secretsmanager:${REGION}:123456789012:secret:${input.SecretId}-AbCdEf`, Name: input.SecretId, SecretString: secret, VersionId: "v1", VersionStages: ["AWSCURRENT"] }, JSON_TYPE);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
});
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
beforeEach(() => { fake = newFakeState(); writeFileSync(ARGV_LOG, ""); });
const curlCalls = () => readFileSync(ARGV_LOG, "utf8").split("\n").filter(Boolean).map((argv) => argv.replace(/\0/g, " "));
const leaksCredentials = (argv: string) => argv.includes(CREDS.SecretAccessKey) || argv.includes(CREDS.Token);

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
/** Runs a command (killed after 20 s) with the script's endpoints pointed at the fake. */
function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(args[0], args.slice(1), { timeout: 20_000, killSignal: "SIGKILL", env: { ...process.env,
      PATH: `${shimDir}:${process.env.PATH}`, REDIS_NODE_IMDS_URL: base, REDIS_NODE_SECRET_ENDPOINT: `${base}/aws/`, REDIS_NODE_SECRET_RETRY_SECONDS: "0", REDIS_NODE_LIB: BOOT_LIB, NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1", ...extraEnv } });
    let stdout = "", stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", fail).on("close", (code, signal) => done({ code, signal, stdout, stderr }));
  });
}
// "_" as $0: with the script itself as $0, BASH_SOURCE[0] == $0 and sourcing would run the part.
const fetchSecret = (store: string, id: string) => run(["bash", "-c", 'source "$1" && fetch_secret "$2" "$3"', "_", SCRIPT, store, id]);

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
