// The rolling restart's node command (redis-node-restart) without a group:
// it refuses, and restarts nothing, when it cannot see a healthy group; its
// only restarts go through systemctl (the integration suite rolls a real
// group with a stand-in named by REDIS_NODE_SERVICE_MANAGER).
import { spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { bootAsset, bootLibrary, NODE_RESTART_ASSET } from "../../lib/boot";


describe("redis-node-restart", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "node-restart-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs the command as the library has it (its parts beside it); nothing
   * listens on the ports; systemctl on PATH logs its calls. `nodeEnv`: the
   * node.env of a data node with its own sentinel, unless given.
   */
  function command(args: string[], env: Record<string, string> = {}, nodeEnvText?: (password: string) => string) {
    const lib = join(dir, "lib");
    mkdirSync(join(lib, "parts"), { recursive: true });
    for (const [path, [, text]] of Object.entries(JSON.parse(bootLibrary().bundle) as Record<string, [string, string]>)) writeFileSync(join(lib, path), text);
    writeFileSync(join(lib, "common.sh"), bootAsset("common.sh"));
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin", "systemctl"), `#!/bin/bash\necho "$*" >>"${dir}/systemctl.log"\n`, { mode: 0o755 });
    const password = join(dir, "node-ops.password");
    writeFileSync(password, "0".repeat(64), { mode: 0o600 });
    writeFileSync(join(dir, "sentinel.conf"), 'sentinel sentinel-user sentinel-peer\nsentinel sentinel-pass "p"\nsentinel auth-user main sentinel\nsentinel auth-pass main "q"\n');
    const nodeEnv = join(dir, "node.env");
    writeFileSync(
      nodeEnv,
      nodeEnvText?.(password) ??
        "REDIS_PORT='1'\nSENTINEL_PORT='2'\nSENTINEL_MASTER_NAME='main'\nNODE_ADDRESS='127.0.0.1'\n" +
          `NODE_OPS_PASSWORD_FILE='${password}'\nROLE_SENTINELS='127.0.0.1'\nROLE_SENTINEL_PORT='2'\nROLE_MASTER_NAME='main'\n`,
    );
    const r = spawnSync("bash", [join(lib, NODE_RESTART_ASSET), ...args], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        PATH: `${join(dir, "bin")}:${process.env.PATH}`,
        REDIS_NODE_LIB: lib,
        REDIS_NODE_ENV: nodeEnv,
        REDIS_NODE_RUN_DIR: join(dir, "run"),
        REDIS_NODE_SENTINEL_CONF: join(dir, "sentinel.conf"),
        REDIS_NODE_CLI_TIMEOUT: "1",
        ...env,
      },
    });
    const systemctl = existsSync(join(dir, "systemctl.log")) ? readFileSync(join(dir, "systemctl.log"), "utf8") : "";
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, systemctl };
  }

  test.each([[["--check"]], [[]]])("args %j: with no redis-server and no sentinel answering it refuses (exit 1), says why, restarts nothing", (args) => {
    const r = command(args);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^redis-node-restart: this node \(127\.0\.0\.1:1\) is unknown \(redis-server does not answer\)$/m);
    expect(r.stdout).toMatch(/^redis-node-restart: not now: the sentinel at 127\.0\.0\.1:2 does not name a master/m);
    expect(r.stdout).toMatch(/^redis-node-restart: not now: the sentinels cannot reach their quorum/m);
    expect(r.stdout).toMatch(/may restart now: no\n$/);
    expect(r.systemctl).toBe("");
  });

  describe("on a data node of dedicated sentinels (HANDOVER_USER in node.env: no sentinel, no sentinel.conf)", () => {
    /** A data node's node.env as the boot writes it for such a group: the role decision's sentinels and master name, the hand-over's login. */
    const dedicatedEnv = (withHandoverPassword = true) => (password: string) => {
      const handover = join(dir, "node-handover.password");
      if (withHandoverPassword) writeFileSync(handover, "Handover.pw+1", { mode: 0o600 });
      return (
        `REDIS_PORT='1'\nNODE_ADDRESS='127.0.0.1'\nNODE_OPS_PASSWORD_FILE='${password}'\nROLE_SENTINELS='127.0.0.1 127.0.0.2'\nROLE_SENTINEL_PORT='3'\n` +
        `ROLE_MASTER_NAME='main'\nHANDOVER_USER='node-handover'\nHANDOVER_PASSWORD_FILE='${handover}'\n`
      );
    };

    test.each([[["--check"]], [[]]])("args %j: with no sentinel answering as node-handover it refuses (exit 1), says why, restarts nothing", (args) => {
      const r = command(args, { REDIS_NODE_SENTINEL_CONF: join(dir, "no-sentinel.conf") }, dedicatedEnv());
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/^redis-node-restart: the sentinel at 127\.0\.0\.2:3 does not answer as node-handover\nredis-node-restart: the sentinel at 127\.0\.0\.1:3 does not answer as node-handover\n/);
      expect(r.stdout).toMatch(/^redis-node-restart: this node \(127\.0\.0\.1:1\) is unknown \(redis-server does not answer\)$/m);
      expect(r.stdout).toMatch(/^redis-node-restart: not now: the sentinel at 127\.0\.0\.2:3 does not name a master/m);
      expect(r.stdout).toMatch(/^redis-node-restart: not now: none of the sentinels \(127\.0\.0\.1 127\.0\.0\.2\) answers as node-handover$/m);
      expect(r.stdout).toMatch(/may restart now: no\n$/);
      // Nothing else was asked of a sentinel it has no session with.
      expect(r.stderr).toBe("");
      expect(r.systemctl).toBe("");
    });

    test("without node-handover's password file (not root) it fails and says so, before it asks anything", () => {
      const r = command(["--check"], {}, dedicatedEnv(false));
      expect(r).toMatchObject({ status: 1, stdout: "", systemctl: "" });
      expect(r.stderr).toMatch(/^redis-node-restart: ERROR: cannot read \S+\/node-handover\.password: run as root\n$/);
    });

    test("the sentinel's restart is left out there (none runs on the node); the restart of redis-server is the same", () => {
      const script = bootAsset(NODE_RESTART_ASSET);
      expect(script).toMatch(/^ {2}\[\[ -n \$\{HANDOVER_USER:-\} \]\] \|\| restart_sentinel$/m);
      expect(script.match(/^ {2}service_manager restart redis-server\.service/gm)).toHaveLength(1);
    });
  });

  test("an unknown argument fails before it asks anything", () => {
    const r = command(["--now"]);
    expect(r).toMatchObject({ status: 1, stdout: "", systemctl: "" });
    expect(r.stderr).toBe("redis-node-restart: ERROR: usage: redis-node-restart [--check]\n");
  });

  test("without the node-ops password (not root) it fails and says so", () => {
    const r = command(["--check"], { REDIS_NODE_ENV: join(dir, "missing.env") });
    expect(r.status).not.toBe(0);
    expect(r.systemctl).toBe("");
  });

  test("every restart goes through one function whose default is systemctl; the password never reaches a command line", () => {
    const script = bootAsset(NODE_RESTART_ASSET);
    expect(script).toMatch(/^service_manager\(\) \{ "\$\{REDIS_NODE_SERVICE_MANAGER:-systemctl\}" "\$@"; \}$/m);
    const calls = script.split("\n").filter((l) => /\bsystemctl\b/.test(l) && !/^\s*#/.test(l));
    expect(calls).toEqual([expect.stringMatching(/^service_manager\(\)/)]);
    // The order they run in (redis-server, then the sentinel) is what the integration suite checks.
    expect(script.match(/service_manager restart [a-z-]+\.service/g)?.sort()).toEqual(["service_manager restart redis-sentinel.service", "service_manager restart redis-server.service"]);
    expect(script).not.toMatch(/-a "\$|--pass /);
  });
});
