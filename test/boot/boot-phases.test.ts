// The library's boot.sh, run for real with two parts that only log: every
// check, then every prepare, then ONE daemon-reload, then every start. The
// parts leave reloading systemd to it (each reload re-runs every generator),
// so a unit, drop-in, fstab line or unmask a prepare step writes is loaded
// before any start step runs, and never reloaded again by the start steps.
import { spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { bootAsset } from "../../lib/boot";

const PARTS = resolve(__dirname, "../../lib/boot/parts/assets");
let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "boot-phases-"));
  for (const d of ["lib/parts", "bin", "state", "run", "templates"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "lib", "common.sh"), bootAsset("common.sh"));
  writeFileSync(join(dir, "lib", "boot.sh"), bootAsset("boot.sh"), { mode: 0o755 });
  writeFileSync(join(dir, "bin", "systemctl"), `#!/bin/bash\necho "systemctl $*" >>"${dir}/calls.log"\n`, { mode: 0o755 });
  for (const part of ["first", "second"]) {
    writeFileSync(join(dir, "lib", "parts", `${part}.sh`), `#!/bin/bash\necho "${part} $1" >>"${dir}/calls.log"\n[[ "${part} $1" != "$FAIL_AT" ]]\n`, { mode: 0o755 });
  }
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function boot(failAt = "") {
  writeFileSync(join(dir, "node.env"), "BOOT_PARTS='first second'\nREDIS_NODE_SERVICES='redis-test-none.service'\n", { mode: 0o600 });
  const r = spawnSync("bash", [join(dir, "lib", "boot.sh")], { encoding: "utf8", timeout: 30_000, env: { ...process.env,
    PATH: `${join(dir, "bin")}:${process.env.PATH}`, REDIS_NODE_LIB: join(dir, "lib"), REDIS_NODE_ENV: join(dir, "node.env"), FAIL_AT: failAt,
    REDIS_NODE_STATE_DIR: join(dir, "state"), REDIS_NODE_RUN_DIR: join(dir, "run"), REDIS_NODE_TEMPLATE_DIR: join(dir, "templates") } });
  return { status: r.status, stderr: r.stderr, calls: readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n") };
}

describe("boot.sh runs the parts in phases and reloads systemd once", () => {
  test("checks, prepares, one daemon-reload, starts", () => {
    const r = boot();
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "redis-node-setup: done\n" });
    expect(r.calls).toEqual(["first check", "second check", "first prepare", "second prepare", "systemctl daemon-reload", "first start", "second start"]);
  });

  test("a failed prepare step: no reload, no start; the services are masked", () => {
    const r = boot("second prepare");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("boot part second failed in its prepare step");
    expect(r.calls).toEqual(["first check", "second check", "first prepare", "second prepare",
      "systemctl disable --now redis-test-none.service", "systemctl mask redis-test-none.service"]);
  });

  test("no part reloads systemd on its own but tuning (its THP unit starts in its prepare step); units enabled at start do not reload either", () => {
    const steps = readdirSync(PARTS).filter((f) => f.endsWith(".sh"));
    const reloading = steps.filter((f) => /systemctl\s+daemon-reload/.test(readFileSync(join(PARTS, f), "utf8")));
    expect(reloading).toEqual(["tuning.sh"]);
    for (const f of steps) {
      const enables = readFileSync(join(PARTS, f), "utf8").split("\n").filter((l) => /systemctl\s+(enable|unmask)\b/.test(l) && !/^\s*#/.test(l));
      expect({ step: f, withoutNoReload: enables.filter((l) => !l.includes("--no-reload")) }).toEqual({ step: f, withoutNoReload: [] });
    }
    // The Redis units: unmasked and enabled in their prepare steps, without the SysV sync that reloads twice per unit.
    expect(bootAsset("redis.sh")).toMatch(/enable_units\(\) \{\n\s*SYSTEMCTL_SKIP_SYSV=1 systemctl unmask --no-reload "\$@"\n\s*SYSTEMCTL_SKIP_SYSV=1 systemctl enable --no-reload "\$@"\n\}/);
  });
});
