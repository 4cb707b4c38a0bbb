// The sentinel boot step's own check, run for real in bash: the passwords
// Sentinel writes back unquoted must need no quotes.
import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";

const STEP = resolve(__dirname, "../../lib/boot/parts/assets/sentinel.sh");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");

function check(passwords: Record<string, string>): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), "sentinel-step-"));
  try {
    for (const [user, password] of Object.entries(passwords)) writeFileSync(join(dir, `${user}.password`), password, { mode: 0o600 });
    // "_" as $0: sourcing with the step as $0 would run it.
    const r = spawnSync("bash", ["-c", 'source "$1" && require_rewritable_passwords', "_", STEP], {
      encoding: "utf8",
      env: { ...process.env, REDIS_NODE_LIB: BOOT_LIB, REDIS_NODE_SECRETS_DIR: dir, SENTINEL_REWRITTEN_USERS: Object.keys(passwords).join(" ") },
    });
    return { status: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("require_rewritable_passwords", () => {
  test("accepts the library's generated passwords and other unquoted words", () => {
    expect(check({ sentinel: "Ab3dEf9hIjKlMn0pQrStUvWxYz123456", "sentinel-peer": "a.b_c+d=e/f-9" })).toEqual({ status: 0, stderr: "" });
  });

  test.each(["with space", 'quo"te', "back\\slash", "hash#tag", "it's"])("refuses %j, naming the user", (password) => {
    const r = check({ sentinel: "fine", "sentinel-peer": password });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("the password of user sentinel-peer has characters Sentinel cannot write back unquoted");
  });

  test("a missing password is a clear error, not a pass", () => {
    const r = spawnSync("bash", ["-c", 'source "$1" && require_rewritable_passwords', "_", STEP], {
      encoding: "utf8",
      env: { ...process.env, REDIS_NODE_LIB: BOOT_LIB, REDIS_NODE_SECRETS_DIR: "/nonexistent", SENTINEL_REWRITTEN_USERS: "sentinel" },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("no password of user sentinel was read at boot");
  });
});
