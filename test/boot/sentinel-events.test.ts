// The sentinel-events step run for real: as Sentinel's notification script
// it spools events, and with `send` it publishes them to a fake EventBridge
// on loopback that checks curl's SigV4 signature (test/support/fake-aws.ts),
// with the instance role from a fake IMDSv2.
import { execFileSync, spawn } from "child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { createServer } from "http";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { renderNodeEnv, SENTINEL_EVENT_DETAIL_TYPE, SENTINEL_EVENT_SOURCE, SENTINEL_EVENTS_DIR, sentinelEventsPart } from "../../lib/boot";
import { FakeAws } from "../support/fake-aws";

const STEP = resolve(__dirname, "../../lib/boot/parts/assets/sentinel-events.sh");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const REGION = "eu-west-1";
const ROLE = "redis-node-role";
const CREDS = { AccessKeyId: "ASIAFAKEKEY000000002", SecretAccessKey: "fAkE/Events+Key/0123456789abcdefghijKLMN", Token: "IQoJb3JpZ2luX2VjEFAKE/events+token==" };
const GROUP = "prod/cache";
const NODE = "10.0.1.11";

const aws = new FakeAws({ region: REGION, role: ROLE, creds: CREDS, stored: { ssm: new Map(), secretsmanager: new Map() }, apiPath: "/aws/" });
let fake = aws.state;
const server = createServer(aws.listener());
const dir = mkdtempSync(join(tmpdir(), "sentinel-events-"));
const SPOOL = join(dir, "spool");
const ARGV_LOG = join(dir, "curl-argv.log");
let base = "";

/** node.env as the part writes it. */
function writeNodeEnv(eventBus = "default"): string {
  const part = sentinelEventsPart({ group: GROUP, nodeAddress: NODE, eventBus, eventBusArn: "arn:unused" });
  const file = join(dir, `node-${eventBus.replace(/\W/g, "_")}.env`);
  writeFileSync(file, renderNodeEnv([part]));
  return file;
}

beforeAll(async () => {
  // A `curl` first on PATH that logs each argv (NUL-separated, one line per call), then runs the real one.
  const realCurl = execFileSync("bash", ["-c", "command -v curl"], { encoding: "utf8" }).trim();
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin", "curl"), `#!/bin/bash\nprintf '%s\\0' "$@" >>"${ARGV_LOG}"; echo >>"${ARGV_LOG}"\nexec ${realCurl} "$@"\n`);
  chmodSync(join(dir, "bin", "curl"), 0o755);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
});
beforeEach(() => {
  fake = aws.reset();
  writeFileSync(ARGV_LOG, "");
  rmSync(SPOOL, { recursive: true, force: true });
  mkdirSync(join(SPOOL, ".tmp"), { recursive: true });
});

interface Run { code: number | null; stdout: string; stderr: string }
/** Runs the step (killed after 30 s) with its endpoints, spool and settings pointed here. */
function step(args: string[], nodeEnv = writeNodeEnv()): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn("bash", [STEP, ...args], { timeout: 30_000, killSignal: "SIGKILL", env: { ...process.env,
      PATH: `${join(dir, "bin")}:${process.env.PATH}`, REDIS_NODE_LIB: BOOT_LIB, REDIS_NODE_ENV: nodeEnv, REDIS_NODE_EVENTS_DIR: SPOOL,
      REDIS_NODE_IMDS_URL: base, REDIS_NODE_AWS_ENDPOINT: `${base}/aws/`, REDIS_NODE_EVENTS_RETRY_SECONDS: "0", NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1" } });
    let stdout = "", stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", fail).on("close", (code) => done({ code, stdout, stderr }));
  });
}
const notify = (kind: string, description: string) => step([kind, description], "/nonexistent/node.env");
const spooled = () => readdirSync(SPOOL).filter((n) => !n.startsWith("."));
const details = () => fake.events.map((e) => JSON.parse(e.Detail));

describe("as Sentinel's notification script", () => {
  it("spools the published events, one file each, and ignores the others; exits 0 without reading node.env", async () => {
    for (const [kind, description] of [
      ["+sdown", "master main 10.0.1.10 6379"],
      ["+odown", "master main 10.0.1.10 6379 #quorum 2/2"],
      ["+try-failover", "master main 10.0.1.10 6379"],
      ["+switch-master", "main 10.0.1.10 6379 10.0.1.12 6379"],
      ["+failover-end", "master main 10.0.1.10 6379"],
      ["-odown", "master main 10.0.1.10 6379"],
    ]) {
      expect(await notify(kind, description)).toEqual({ code: 0, stdout: "", stderr: "" });
    }
    const files = spooled().sort();
    expect(files).toHaveLength(4);
    expect(files.every((n) => /^\d+-\d+\.event$/.test(n))).toBe(true);
    expect(files.map((n) => readFileSync(join(SPOOL, n), "utf8").split("\n").slice(1))).toEqual([
      ["+odown", "master main 10.0.1.10 6379 #quorum 2/2", ""],
      ["+switch-master", "main 10.0.1.10 6379 10.0.1.12 6379", ""],
      ["+failover-end", "master main 10.0.1.10 6379", ""],
      ["-odown", "master main 10.0.1.10 6379", ""],
    ]);
    expect(readdirSync(join(SPOOL, ".tmp"))).toEqual([]);
  });

  it("stops at 1000 spooled files, still exiting 0", async () => {
    for (let i = 0; i < 1000; i++) writeFileSync(join(SPOOL, `1-${i}.event`), "");
    expect(await notify("+switch-master", "main 10.0.1.10 6379 10.0.1.12 6379")).toMatchObject({ code: 0 });
    expect(spooled()).toHaveLength(1000);
  });

  it("the part's spool is where the script writes by default", () => {
    expect(readFileSync(STEP, "utf8")).toContain(`SPOOL=\${REDIS_NODE_EVENTS_DIR:-${SENTINEL_EVENTS_DIR}}\n`);
  });
});

describe("send: PutEvents signed with the instance role", () => {
  const failover = async () => {
    await notify("+odown", "master main 10.0.1.10 6379 #quorum 2/2");
    await notify("+switch-master", "main 10.0.1.10 6379 10.0.1.12 6380");
    await notify("+failover-end", "master main 10.0.1.10 6379");
  };

  it("publishes each spooled event with its fields, in order, then removes the files", async () => {
    const before = Date.now() / 1000;
    await failover();
    const r = await step(["send"]);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stderr).toContain("published 3 events");
    expect(fake).toMatchObject({ apiCalls: 1, rejected: [], tokenless: 0 });
    expect(fake.events.map((e) => [e.Source, e.DetailType, e.EventBusName])).toEqual(Array(3).fill([SENTINEL_EVENT_SOURCE, SENTINEL_EVENT_DETAIL_TYPE, "default"]));
    for (const e of fake.events) expect(e.Time).toBeGreaterThanOrEqual(before - 1);
    expect(details()).toEqual([
      { role: "master", masterName: "main", address: "10.0.1.10", port: 6379, group: GROUP, node: NODE, event: "+odown", message: "master main 10.0.1.10 6379 #quorum 2/2" },
      { masterName: "main", oldAddress: "10.0.1.10", oldPort: 6379, newAddress: "10.0.1.12", newPort: 6380, group: GROUP, node: NODE, event: "+switch-master", message: "main 10.0.1.10 6379 10.0.1.12 6380" },
      { role: "master", masterName: "main", address: "10.0.1.10", port: 6379, group: GROUP, node: NODE, event: "+failover-end", message: "master main 10.0.1.10 6379" },
    ]);
    expect(spooled()).toEqual([]);
  });

  it("with nothing spooled, makes no call", async () => {
    expect(await step(["send"])).toMatchObject({ code: 0, stderr: "" });
    expect(fake).toMatchObject({ apiCalls: 0, tokenPuts: 0 });
  });

  it("sends at most 10 entries a call", async () => {
    for (let i = 0; i < 12; i++) await notify("+odown", `master main 10.0.1.${i} 6379 #quorum 2/2`);
    expect(await step(["send"])).toMatchObject({ code: 0 });
    expect(fake.apiCalls).toBe(2);
    expect(details().map((d) => d.address)).toEqual(Array.from({ length: 12 }, (_, i) => `10.0.1.${i}`));
  });

  it("a refused call keeps the files (exit 1, logged) and the next run sends them", async () => {
    await failover();
    fake.refuseEvents = true;
    const refused = await step(["send"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/PutEvents failed: events answered: .*AccessDeniedException/);
    expect(fake.events).toEqual([]);
    expect(spooled()).toHaveLength(3);
    fake.refuseEvents = false;
    expect(await step(["send"])).toMatchObject({ code: 0 });
    expect(details().map((d) => d.event)).toEqual(["+odown", "+switch-master", "+failover-end"]);
    expect(spooled()).toEqual([]);
  });

  it("a wrong signature is refused by the fake, and the files stay", async () => {
    await failover();
    fake.verifyWithSecret = "not-the-key-the-instance-got";
    expect((await step(["send"])).code).toBe(1);
    expect(fake.rejected[0]).toMatch(/^InvalidSignatureException/);
    expect(spooled()).toHaveLength(3);
  });

  it("drops what the notification script did not write, unread: a symlink, a malformed file, an old event", async () => {
    // As the notification script spools a description with a quote (Sentinel's own have none).
    await notify("+odown", 'master "main" 10.0.1.10 6379');
    const quoted = spooled()[0];
    const secret = join(dir, "root-only");
    writeFileSync(secret, `${Date.now() / 1000}\n+odown\nmaster main 10.0.1.10 6379\n`, { mode: 0o600 });
    symlinkSync(secret, join(SPOOL, "1700000000000001-1.event"));
    writeFileSync(join(SPOOL, "1700000000000003-1.event"), `${Date.now() / 1000 - 2 * 86400}\n+odown\nmaster main 10.0.1.10 6379\n`);
    await notify("-odown", "master main 10.0.1.10 6379");
    const r = await step(["send"]);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stderr.match(/dropped \S+/g)?.sort()).toEqual(["dropped 1700000000000001-1.event", "dropped 1700000000000003-1.event", `dropped ${quoted}`].sort());
    expect(details().map((d) => d.event)).toEqual(["-odown"]);
    expect(spooled()).toEqual([]);
    expect(existsSync(secret)).toBe(true);
  });

  it("a bus given by its ARN is named in each entry (the call goes to the instance's region)", async () => {
    const arn = `arn:aws:events:${REGION}:123456789012:event-bus/redis`;
    await failover();
    expect(await step(["send"], writeNodeEnv(arn))).toMatchObject({ code: 0 });
    expect(fake.events.map((e) => e.EventBusName)).toEqual([arn, arn, arn]);
  });

  it("never puts the credentials on a command line", async () => {
    await failover();
    expect((await step(["send"])).code).toBe(0);
    const calls = readFileSync(ARGV_LOG, "utf8").split("\n").filter(Boolean).map((argv) => argv.replace(/\0/g, " "));
    expect(calls).toHaveLength(5); // token, region, role, credentials, PutEvents
    expect(calls.filter((argv) => argv.includes("--aws-sigv4 aws:amz:eu-west-1:events"))).toHaveLength(1);
    expect(calls.filter((argv) => argv.includes(CREDS.SecretAccessKey) || argv.includes(CREDS.Token))).toEqual([]);
  });
});
