// The ssm-agent boot step as shipped, against a fake instance metadata and a
// fake S3 over HTTPS on loopback (a test CA that curl trusts through
// CURL_CA_BUNDLE). The .deb it downloads is a real package built here;
// apt-get and systemctl are stand-ins on PATH that record what the step
// asks of them, so nothing is installed or started on the host (the VM
// suites install the package with the real dpkg and start it under systemd).
import { spawn } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { createServer as createHttpServer, Server } from "http";
import { createServer as createHttpsServer } from "https";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { missingTools, testNeeding, Tool } from "../helpers";
import { FakeAws } from "../support/fake-aws";
import { agentObjectPath, buildFakeAgentDeb, FAKE_AGENT_VERSION, fakeS3Listener, S3Request } from "../support/fake-ssm-agent";
import { issueCertificate, makeCa } from "../tls-fixtures";

const STEP = resolve(__dirname, "../../lib/boot/parts/assets/ssm-agent.sh");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const REGION = "eu-central-1";
const CREDS = { AccessKeyId: "ASIAFAKEKEY000000002", SecretAccessKey: "fAkE/Secret+Key/abcdefghij0123456789KLMN", Token: "IQoJFAKE/session+token==" };
const TOOLS: Tool[] = ["curl", "dpkg-deb", { command: "openssl", args: ["version"] }];
const it = testNeeding(TOOLS);

const dir = mkdtempSync(join(tmpdir(), "ssm-agent-step-"));
const aws = new FakeAws({ region: REGION, role: "redis-node-role", creds: CREDS, stored: { ssm: new Map(), secretsmanager: new Map() }, apiPath: "/aws/" });
const objects = new Map<string, string>();
const s3Requests: S3Request[] = [];
const plainRequests: string[] = [];
const servers: Server[] = [];
let imdsUrl = "";
let s3Url = "";
let plainUrl = "";
let caFile = "";
let debs: Record<"amd64" | "arm64" | "other", string>;

const listen = (server: Server) => new Promise<string>((ok) => {
  servers.push(server);
  server.listen(0, "127.0.0.1", () => ok(`127.0.0.1:${(server.address() as AddressInfo).port}`));
});

beforeAll(async () => {
  if (missingTools(TOOLS).length > 0) return;
  const ca = makeCa(dir, "s3-ca");
  const cert = issueCertificate(ca, "s3", ["127.0.0.1"]);
  caFile = ca.certificate;
  debs = {
    amd64: buildFakeAgentDeb(dir),
    arm64: buildFakeAgentDeb(dir, { architecture: "arm64" }),
    other: buildFakeAgentDeb(dir, { packageName: "not-the-agent" }),
  };
  imdsUrl = `http://${await listen(createHttpServer(aws.listener("imds")))}`;
  s3Url = `https://${await listen(createHttpsServer({ key: readFileSync(cert.key), cert: readFileSync(cert.certificate) }, fakeS3Listener(objects, s3Requests)))}`;
  plainUrl = `http://${await listen(createHttpServer((req, res) => {
    plainRequests.push(req.url ?? "");
    res.writeHead(200).end(readFileSync(debs.amd64));
  }))}`;
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((ok) => {
    s.closeAllConnections();
    s.close(() => ok());
  })));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  aws.reset();
  objects.clear();
  s3Requests.length = 0;
  plainRequests.length = 0;
});

interface NodeOptions {
  /** What dpkg --print-architecture says. @default "amd64" */
  readonly arch?: string;
  /** What systemctl list-unit-files lists (an image's agent). */
  readonly unitFiles?: string;
  readonly endpoint?: string;
  readonly attempts?: number;
}

interface StepRun {
  readonly code: number | null;
  readonly stderr: string;
  /** What the stand-ins saw. */
  readonly systemctl: string[];
  readonly installed: string[];
  readonly logger: string;
  readonly aptGet: string[];
  /** The bytes apt-get install got, if any. */
  readonly installedDeb?: Buffer;
  readonly leftovers: string[];
}

/** Runs `ssm-agent.sh start` as a node would, with stand-ins for dpkg's architecture, apt-get, systemctl and logger. */
async function runStep(options: NodeOptions = {}): Promise<StepRun> {
  const node = mkdtempSync(join(dir, "node-"));
  const bin = join(node, "bin");
  const tmp = join(node, "tmp");
  mkdirSync(bin);
  mkdirSync(tmp);
  writeFileSync(join(node, "arch"), `${options.arch ?? "amd64"}\n`);
  writeFileSync(join(node, "unit-files"), options.unitFiles ?? "");
  writeFileSync(join(bin, "dpkg"), `#!/bin/sh\n[ "$*" = --print-architecture ] && exec cat '${node}/arch'\necho "unexpected: dpkg $*" >&2; exit 2\n`, { mode: 0o755 });
  // apt-get install ... <file>: records the options, the package and version of the file, and its bytes.
  writeFileSync(join(bin, "apt-get"), [
    "#!/bin/sh",
    `echo "$*" >>'${node}/apt-get.log'`,
    "for f; do :; done",
    `echo "$(dpkg-deb -f "$f" Package) $(dpkg-deb -f "$f" Version)" >>'${node}/installed'`,
    `cp "$f" '${node}/installed.deb'`,
    "",
  ].join("\n"), { mode: 0o755 });
  // As systemd 252 does: list-unit-files exits 1 when no unit file matches.
  writeFileSync(join(bin, "systemctl"), [
    "#!/bin/sh",
    `echo "$*" >>'${node}/systemctl.log'`,
    `if [ "$1" = list-unit-files ]; then cat '${node}/unit-files'; [ -s '${node}/unit-files' ]; fi`,
    "",
  ].join("\n"), { mode: 0o755 });
  writeFileSync(join(bin, "logger"), `#!/bin/sh\necho "$*" >>'${node}/logger.log'\n`, { mode: 0o755 });
  const env = {
    PATH: `${bin}:${process.env.PATH}`,
    REDIS_NODE_LIB: BOOT_LIB,
    REDIS_NODE_IMDS_URL: imdsUrl,
    REDIS_NODE_S3_ENDPOINT: options.endpoint ?? s3Url,
    REDIS_NODE_SSM_AGENT_ATTEMPTS: String(options.attempts ?? 1),
    REDIS_NODE_SSM_AGENT_DOWNLOAD_SECONDS: "20",
    CURL_CA_BUNDLE: caFile,
    TMPDIR: tmp,
  };
  const child = spawn("bash", [STEP, "start"], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const code = await new Promise<number | null>((ok) => child.on("close", ok));
  clearTimeout(timer);
  const read = (name: string) => (existsSync(join(node, name)) ? readFileSync(join(node, name), "utf8") : "");
  return {
    code,
    stderr,
    systemctl: read("systemctl.log").split("\n").filter(Boolean),
    installed: read("installed").split("\n").map((l) => l.trim()).filter(Boolean),
    logger: read("logger.log"),
    aptGet: read("apt-get.log").split("\n").filter(Boolean),
    installedDeb: existsSync(join(node, "installed.deb")) ? readFileSync(join(node, "installed.deb")) : undefined,
    leftovers: readdirSync(tmp),
  };
}

describe("ssm-agent step", () => {
  it("no agent on the image: downloads the package from the region's bucket over HTTPS, installs it and starts it", async () => {
    objects.set(agentObjectPath(REGION), debs.amd64);
    const r = await runStep();
    expect(r.code).toBe(0);
    expect(s3Requests.map((q) => q.path)).toEqual([`/amazon-ssm-${REGION}/latest/debian_amd64/amazon-ssm-agent.deb`]);
    expect(r.installed).toEqual([`amazon-ssm-agent ${FAKE_AGENT_VERSION}`]);
    expect(r.installedDeb!.equals(readFileSync(debs.amd64))).toBe(true);
    // A local file (a path, not a package name), waiting for the dpkg lock rather than failing on it.
    expect(r.aptGet).toEqual([expect.stringMatching(/^install -y -q -o DPkg::Lock::Timeout=300 \/.*\/ssm-agent\.[A-Za-z0-9]+\/amazon-ssm-agent\.deb$/)]);
    expect(r.systemctl).toEqual([expect.stringMatching(/^list-unit-files /), "enable --no-reload --now amazon-ssm-agent.service"]);
    expect(r.stderr).toContain(`ssm-agent: installed amazon-ssm-agent ${FAKE_AGENT_VERSION} from ${s3Url}/amazon-ssm-${REGION}/latest/debian_amd64/`);
    expect(r.stderr).not.toContain("WARNING");
    expect(r.leftovers).toEqual([]);
  });

  it("an arm64 node asks for the arm64 package", async () => {
    objects.set(agentObjectPath(REGION, "arm64"), debs.arm64);
    const r = await runStep({ arch: "arm64" });
    expect(s3Requests.map((q) => q.path)).toEqual([agentObjectPath(REGION, "arm64")]);
    expect(r.installed).toEqual([`amazon-ssm-agent ${FAKE_AGENT_VERSION}`]);
  });

  for (const [what, unitFiles] of [
    ["Ubuntu's snap", "snap.amazon-ssm-agent.amazon-ssm-agent.service enabled enabled\n"],
    ["a package the image carries", "amazon-ssm-agent.service enabled enabled\n"],
  ]) it(`the image has an agent (${what}): nothing downloaded, installed or started`, async () => {
    objects.set(agentObjectPath(REGION), debs.amd64);
    const r = await runStep({ unitFiles });
    expect(r.code).toBe(0);
    expect(s3Requests).toEqual([]);
    expect(r.installed).toEqual([]);
    expect(r.systemctl).toEqual([expect.stringMatching(/^list-unit-files /)]);
    expect(r.stderr).toContain(`the image's agent is installed (${unitFiles.split(" ")[0]})`);
  });

  for (const [what, served, arch, said] of [
    ["another package", "other", "amd64", "package 'not-the-agent', architecture 'amd64'"],
    ["the package of another architecture", "amd64", "arm64", "package 'amazon-ssm-agent', architecture 'amd64'"],
  ] as const) it(`refuses ${what}: nothing installed, a warning, the boot goes on`, async () => {
    objects.set(agentObjectPath(REGION, arch), debs[served]);
    const r = await runStep({ arch });
    expect(r.code).toBe(0);
    expect(s3Requests).toHaveLength(1);
    expect(r.installed).toEqual([]);
    expect(r.stderr).toContain(`WARNING: the SSM agent is not installed`);
    expect(r.stderr).toContain(`is not the amazon-ssm-agent package for this architecture (${said}); nothing installed`);
    expect(r.logger).toContain("WARNING: the SSM agent is not installed");
    expect(r.leftovers).toEqual([]);
  });

  it("the bucket does not answer with the package: bounded attempts, then a warning; the boot goes on", async () => {
    const r = await runStep({ attempts: 2 });
    expect(r.code).toBe(0);
    expect(s3Requests.map((q) => q.status)).toEqual([404, 404]);
    expect(r.installed).toEqual([]);
    expect(r.stderr).toMatch(/WARNING: the SSM agent is not installed, .*cannot download .*amazon-ssm-agent\.deb: .*404.*NAT gateway or an S3 gateway endpoint/);
  }, 60_000);

  it("never over plain HTTP: an http endpoint gets no request", async () => {
    const r = await runStep({ endpoint: plainUrl });
    expect(r.code).toBe(0);
    expect(plainRequests).toEqual([]);
    expect(r.installed).toEqual([]);
    expect(r.stderr).toMatch(/WARNING: .*cannot download http:\/\/.*[Pp]rotocol/);
  });

  it("a certificate curl does not trust: nothing downloaded", async () => {
    objects.set(agentObjectPath(REGION), debs.amd64);
    const other = makeCa(mkdtempSync(join(dir, "other-ca-")), "other-ca");
    const trusted = caFile;
    caFile = other.certificate;
    try {
      const r = await runStep();
      expect(r.code).toBe(0);
      expect(s3Requests).toEqual([]);
      expect(r.installed).toEqual([]);
      expect(r.stderr).toMatch(/WARNING: .*cannot download https:.*certificate/i);
    } finally {
      caFile = trusted;
    }
  });

  it("no role in instance metadata: a warning naming it, nothing downloaded", async () => {
    aws.state.hasRole = false;
    objects.set(agentObjectPath(REGION), debs.amd64);
    const r = await runStep();
    expect(r.code).toBe(0);
    expect(s3Requests).toEqual([]);
    expect(r.stderr).toContain("WARNING: the SSM agent is not installed, so Session Manager and monitoring's associations cannot reach this node: the instance has no IAM role");
  });
});
