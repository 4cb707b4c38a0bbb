// The metrics boot step's password file, run for real in bash: the
// exporter's JSON map of each target to the monitor user's password,
// private to root, written whole or not at all.
import { spawnSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";

const STEP = resolve(__dirname, "../../lib/boot/parts/assets/metrics.sh");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const TARGETS = "rediss://10.0.1.5:6379 rediss://10.0.1.5:26379";

function write(password: string | undefined, existing?: string): { status: number | null; stderr: string; file?: string; mode?: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "metrics-step-"));
  const secrets = join(dir, "secrets");
  spawnSync("mkdir", ["-m", "0700", secrets]);
  if (password !== undefined) writeFileSync(join(secrets, "monitor.password"), password, { mode: 0o600 });
  const out = join(dir, "exporter-passwords.json");
  if (existing !== undefined) writeFileSync(out, existing, { mode: 0o600 });
  // "_" as $0: sourcing with the step as $0 would run it.
  const r = spawnSync("bash", ["-c", 'source "$1" && write_exporter_passwords "$2"', "_", STEP, out], {
    encoding: "utf8",
    env: { ...process.env, REDIS_NODE_LIB: BOOT_LIB, REDIS_NODE_SECRETS_DIR: secrets, EXPORTER_TARGETS: TARGETS },
  });
  return {
    status: r.status,
    stderr: r.stderr,
    file: existsSync(out) ? readFileSync(out, "utf8") : undefined,
    mode: existsSync(out) ? (statSync(out).mode & 0o777).toString(8) : undefined,
    dir,
  };
}

describe("write_exporter_passwords", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test.each(["Ab3dEf9hIjKlMn0pQrStUvWxYz123456", 'a "quoted" \\ back\\slash, {json} ünïcode'])("maps every target to the password %j, root-only", (password) => {
    const r = write(password);
    dirs.push(r.dir);
    expect({ status: r.status, stderr: r.stderr, mode: r.mode }).toEqual({ status: 0, stderr: "", mode: "600" });
    expect(JSON.parse(r.file!)).toEqual({ "rediss://10.0.1.5:6379": password, "rediss://10.0.1.5:26379": password });
    // Nothing left beside it.
    expect(spawnSync("ls", ["-A", r.dir], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).sort()).toEqual(["exporter-passwords.json", "secrets"]);
  });

  test("without the fetched password it fails with a clear message and leaves the old file as it was", () => {
    const r = write(undefined, "old");
    dirs.push(r.dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("the monitor user's password was not fetched");
    expect(r.file).toBe("old");
  });
});
