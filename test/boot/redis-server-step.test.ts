// The redis-server and sentinel boot steps' check phase, run for real in
// bash against stand-in binaries: a Redis older than 7 fails the boot before
// anything changes on the node, with a message that says what to use instead.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { spawnSync } from "child_process";
import { tmpdir } from "os";
import { join, resolve } from "path";

const PARTS = resolve(__dirname, "../../lib/boot/parts/assets");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");

/** Runs `<step> check` with redis-server, redis-sentinel and redis-cli that report `version`. */
function checkWith(step: string, version: string): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), "redis-step-"));
  try {
    for (const binary of ["redis-server", "redis-sentinel", "redis-cli"]) {
      writeFileSync(join(dir, binary), `#!/bin/sh\necho "Redis server v=${version} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=0"\n`);
      chmodSync(join(dir, binary), 0o755);
    }
    const env = join(dir, "node.env");
    writeFileSync(env, "REDIS_PORT='6379'\nSENTINEL_PORT='26379'\nMIN_REDIS_MAJOR='7'\nREDIS_HEALTH_USER='replication'\nSENTINEL_HEALTH_USER='sentinel-peer'\nSENTINEL_REWRITTEN_USERS='sentinel'\n");
    const r = spawnSync("bash", [join(PARTS, step), "check"], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, REDIS_NODE_LIB: BOOT_LIB, REDIS_NODE_ENV: env },
    });
    return { status: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(["redis-server.sh", "sentinel.sh"])("%s check", (step) => {
  const binary = step === "sentinel.sh" ? "redis-sentinel" : "redis-server";

  test("passes on Redis 7.0.15 and names the version", () => {
    expect(checkWith(step, "7.0.15")).toEqual({ status: 0, stderr: `redis-node-setup: ${binary} version 7.0.15\n` });
  });

  test("refuses Redis 6.0 (Ubuntu 22.04), saying which images ship 7", () => {
    const r = checkWith(step, "6.0.16");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${binary} is version 6.0.16; this node needs Redis >= 7.0 (Ubuntu 24.04 and Debian 12 ship 7.0`);
  });
});
