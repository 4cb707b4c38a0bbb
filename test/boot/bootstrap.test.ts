// The entry script in the user data (redis-node-boot), run for real against a
// fake AWS on loopback: it reads the boot library from the parameters its
// node.env names, installs it only when it hashes to the pinned SHA-256, and
// runs its boot.sh. The parameters are the ones a synthesized stack holds.
import { execFileSync, spawn } from "child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from "fs";
import { createServer } from "http";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { Testing } from "cdktf";
import { BasicExampleStack } from "../../examples/basic/main";
import { bootAsset, bootLibrary, NODE_ENV_PATH, splitForParameters, unescapeTerraformTemplate } from "../../lib/boot";
import { FakeAws } from "../support/fake-aws";
import { cloudConfigFiles, userDataOf } from "../helpers";

const ASSETS = resolve(__dirname, "../../lib/boot/assets");
const REGION = "eu-west-1";
const CREDS = { AccessKeyId: "ASIAFAKEKEY000000002", SecretAccessKey: "fAkE/Secret+Key/0123456789abcdefghijKLMN", Token: "IQoJb3JpZ2luX2VjEFAKE/boot+token==" };

// The example's library parameters, by name, with Terraform's escapes undone; the master's node.env.
const json = JSON.parse(Testing.synth(new BasicExampleStack(Testing.app(), "boot", { region: REGION })));
const libraryParameters = Object.values<{ name: string; value: string }>(json.resource.aws_ssm_parameter).filter((p) => /\/boot\/\d+$/.test(p.name));
const masterEnv = cloudConfigFiles(userDataOf(json)["redis/master"])[NODE_ENV_PATH];
const envValue = (name: string) => new RegExp(`^${name}='([^']*)'$`, "m").exec(masterEnv)![1];
const parameterIds = Object.fromEntries(Object.entries<{ name: string }>(json.resource.aws_ssm_parameter).map(([id, p]) => [`\${aws_ssm_parameter.${id}.name}`, p.name]));
const namesInEnv = envValue("BOOT_LIBRARY_PARAMETERS").split(" ").map((ref) => parameterIds[ref]);

const stored = { ssm: new Map<string, string>(), secretsmanager: new Map<string, string>() };
const aws = new FakeAws({ region: REGION, role: "redis-node-role", creds: CREDS, stored, apiPath: "/aws/" });
const server = createServer(aws.listener());
let base = "";
let dir = "";
beforeAll(async () => {
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
});

/** A node's directories as the user data leaves them: common.sh and aws.sh in the library directory, node.env; systemctl only logs. */
beforeEach(() => {
  aws.reset();
  stored.ssm.clear();
  for (const p of libraryParameters) stored.ssm.set(p.name, unescapeTerraformTemplate(p.value));
  dir = mkdtempSync(join(tmpdir(), "bootstrap-"));
  for (const d of ["lib", "bin", "state", "run"]) mkdirSync(join(dir, d));
  for (const f of ["common.sh", "aws.sh"]) copyFileSync(join(ASSETS, f), join(dir, "lib", f));
  writeFileSync(join(dir, "bin", "systemctl"), `#!/bin/bash\necho "$*" >>"${dir}/systemctl.log"\n`);
  chmodSync(join(dir, "bin", "systemctl"), 0o755);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeNodeEnv(names: readonly string[], sha256: string) {
  // BOOT_PARTS names no step of the library: boot.sh runs and fails at once, before it changes anything.
  const env = [`BOOT_PARTS='no-such-part'`, `REDIS_NODE_SERVICES='redis-test-none.service'`, `BOOT_LIBRARY_PARAMETERS='${names.join(" ")}'`, `BOOT_LIBRARY_SHA256='${sha256}'`];
  writeFileSync(join(dir, "node.env"), env.join("\n") + "\n", { mode: 0o600 });
}

interface Run { code: number | null; stderr: string }
function bootstrap(): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn("bash", [join(ASSETS, "bootstrap.sh")], { timeout: 90_000, killSignal: "SIGKILL", env: { ...process.env,
      PATH: `${join(dir, "bin")}:${process.env.PATH}`, REDIS_NODE_LIB: join(dir, "lib"), REDIS_NODE_ENV: join(dir, "node.env"),
      REDIS_NODE_STATE_DIR: join(dir, "state"), REDIS_NODE_RUN_DIR: join(dir, "run"), REDIS_NODE_TEMPLATE_DIR: join(dir, "templates"),
      REDIS_NODE_IMDS_URL: base, REDIS_NODE_AWS_ENDPOINT: `${base}/aws/`, REDIS_NODE_SECRET_RETRY_SECONDS: "0", NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1" } });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", fail).on("close", (code) => done({ code, stderr }));
  });
}

const installed = () => readdirSync(join(dir, "lib"), { recursive: true, encoding: "utf8" }).filter((p) => !statSync(join(dir, "lib", p)).isDirectory()).sort();
const mode = (p: string) => (statSync(join(dir, "lib", p)).mode & 0o777).toString(8);

jest.setTimeout(120_000);

describe("redis-node-boot, the entry script in the user data", () => {
  test("the example pins the library its parameters hold, and names them in order", () => {
    expect(envValue("BOOT_LIBRARY_SHA256")).toBe(bootLibrary().sha256);
    // In chunk order (.../boot/0, 1, ..., 10: numeric, not the JSON's key order).
    const chunk = (name: string) => Number(/\/(\d+)$/.exec(name)![1]);
    expect(namesInEnv).toEqual(libraryParameters.map((p) => p.name).sort((a, b) => chunk(a) - chunk(b)));
    expect(namesInEnv.map(chunk)).toEqual(namesInEnv.map((_, i) => i));
    expect(namesInEnv.length).toBeGreaterThan(1);
    for (const p of libraryParameters) expect(Buffer.byteLength(unescapeTerraformTemplate(p.value))).toBeLessThanOrEqual(4096);
  });

  test("reads the example's parameters, installs every library file as the package has it, then runs the library's boot.sh", async () => {
    writeNodeEnv(namesInEnv, envValue("BOOT_LIBRARY_SHA256"));
    const r = await bootstrap();
    expect(r.stderr).toContain(`installed the boot library (SHA-256 ${bootLibrary().sha256})`);
    // boot.sh ran: it read BOOT_PARTS, failed on the unknown part, and masked the node's services.
    expect(r.stderr).toContain("boot part no-such-part failed in its check step");
    expect(r.code).toBe(1);
    expect(readFileSync(join(dir, "systemctl.log"), "utf8")).toBe("disable --now redis-test-none.service\nmask redis-test-none.service\n");
    const steps = readdirSync(resolve(__dirname, "../../lib/boot/parts/assets")).filter((f) => f.endsWith(".sh")).map((f) => `parts/${f}`);
    expect(installed()).toEqual(["aws.sh", "boot.sh", "common.sh", "node-restart.sh", "redis.sh", ...steps].sort());
    for (const p of ["boot.sh", "redis.sh", "node-restart.sh"]) expect(readFileSync(join(dir, "lib", p), "utf8")).toBe(bootAsset(p));
    for (const p of steps) expect(readFileSync(join(dir, "lib", p), "utf8")).toBe(readFileSync(resolve(__dirname, "../../lib/boot/parts/assets", p.slice(6)), "utf8"));
    expect(mode("boot.sh")).toBe("755");
    expect(mode("redis.sh")).toBe("644");
    expect(mode("node-restart.sh")).toBe("755");
    for (const p of steps) expect(mode(p)).toBe("755");
    expect(aws.state.servedNames).toEqual(namesInEnv);
    // GetParameters, ten names a call, and one read of the role's credentials for all of them.
    expect(aws.state.inputs).toEqual(Array.from({ length: Math.ceil(namesInEnv.length / 10) }, (_, i) => ({ Names: namesInEnv.slice(i * 10, i * 10 + 10) })));
    expect(aws.state).toMatchObject({ tokenPuts: 1, tokenless: 0, rejected: [] });
  });

  test("a parameter changed by one character: nothing installed, nothing run", async () => {
    const [first] = namesInEnv;
    const value = stored.ssm.get(first)!;
    stored.ssm.set(first, value.replace("bash", "bask"));
    writeNodeEnv(namesInEnv, envValue("BOOT_LIBRARY_SHA256"));
    const r = await bootstrap();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/the boot library read has SHA-256 [0-9a-f]{64}, the user data pins [0-9a-f]{64}/);
    expect(r.stderr).toContain("setup failed before the boot library ran: the Redis services stay masked");
    expect(installed()).toEqual(["aws.sh", "common.sh"]);
    expect(existsSync(join(dir, "systemctl.log"))).toBe(false);
  });

  test("a missing parameter: bounded retries, then an error naming it", async () => {
    stored.ssm.delete(namesInEnv[1]);
    writeNodeEnv(namesInEnv, envValue("BOOT_LIBRARY_SHA256"));
    const r = await bootstrap();
    expect(r.code).not.toBe(0);
    expect(r.stderr.match(/reading the boot library failed \(attempt \d+ of 10\)/g)).toHaveLength(10);
    expect(r.stderr).toContain(`cannot read the boot library from ssm: ssm does not have ${namesInEnv[1]} (`);
    expect(installed()).toEqual(["aws.sh", "common.sh"]);
  });

  test("a library split over many parameters is read in order; one naming a path outside the library directory is refused", async () => {
    const own = (files: Record<string, [string, string]>) => {
      const bundle = JSON.stringify(files);
      const chunks = splitForParameters(bundle, 40);
      const names = chunks.map((_, i) => `/test/lib/${i}`);
      chunks.forEach((c, i) => stored.ssm.set(names[i], c));
      writeNodeEnv(names, execFileSync("sha256sum", { input: bundle, encoding: "utf8" }).split(" ")[0]);
      return chunks.length;
    };
    const marker = join(dir, "ran");
    expect(own({ "boot.sh": ["0700", `#!/bin/bash\necho "ran from $0" >${marker}\n`], "x/y.txt": ["0640", "a value with  spaces  "] })).toBeGreaterThan(3);
    expect((await bootstrap()).code).toBe(0);
    expect(readFileSync(marker, "utf8")).toBe(`ran from ${join(dir, "lib", "boot.sh")}\n`);
    expect(readFileSync(join(dir, "lib", "x/y.txt"), "utf8")).toBe("a value with  spaces  ");
    expect([mode("boot.sh"), mode("x/y.txt")]).toEqual(["700", "640"]);

    rmSync(marker);
    own({ "boot.sh": ["0755", `#!/bin/bash\ntouch ${marker}\n`], "../escape.sh": ["0755", "#!/bin/bash\n"] });
    const r = await bootstrap();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("the boot library names a path outside");
    expect(existsSync(join(dir, "escape.sh"))).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });
});
