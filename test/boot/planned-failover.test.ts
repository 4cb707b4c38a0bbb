// The planned failover before a stop: which nodes get it (a drop-in that
// makes the step redis-server's ExecStop=), the settings its step reads,
// the min-replicas-max-lag default tied to failure detection, and the step's
// own decisions that need no running Redis (the integration suite runs the
// hand-over on real processes).
import { spawnSync } from "child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, unlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { RedisReplicationGroup, RedisReplicationGroupProps } from "../../lib";
import { NODE_ENV_PATH, NODE_RESTART_ASSET, NODE_RESTART_COMMAND, PLANNED_FAILOVER_DROP_IN, PLANNED_FAILOVER_STEP_PATH, renderPlannedFailoverDropIn } from "../../lib/boot";
import { directiveArgs, eniAddressRef, newStack, parseRedisConf, synthJson, TerraformJson, nodeEnvVariable, nodeFilesOf, testNeeding, userDataOf } from "../helpers";

const PARTS = resolve(__dirname, "../../lib/boot/parts/assets");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): TerraformJson {
  const stack = newStack();
  new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], ...props });
  return synthJson(stack);
}
const filesOf = (json: TerraformJson) => Object.fromEntries(Object.entries(userDataOf(json)).map(([node, text]) => [node, nodeFilesOf(json, text)]));

describe("the drop-in", () => {
  test("runs the step with stop as ExecStop= outside the unit's sandbox, and stops redis-server before the sentinel", () => {
    const lines = renderPlannedFailoverDropIn().split("\n");
    expect(lines.filter((l) => !l.startsWith("#") && l !== "")).toEqual([
      "[Unit]",
      "After=redis-sentinel.service",
      "[Service]",
      `ExecStop=+${PLANNED_FAILOVER_STEP_PATH} stop`,
    ]);
    expect(PLANNED_FAILOVER_STEP_PATH).toBe("/usr/local/lib/redis-node/parts/planned-failover.sh");
    expect(PLANNED_FAILOVER_DROP_IN).toBe("/etc/systemd/system/redis-server.service.d/30-planned-failover.conf");
  });
});

// The Debian unit the drop-in extends (the redis-server package installs it).
const PACKAGED_UNIT = "/lib/systemd/system/redis-server.service";
const withPackagedUnit = existsSync(PACKAGED_UNIT) ? testNeeding(["systemd-analyze"]) : test.skip;

withPackagedUnit("systemd-analyze verify takes the packaged unit with the drop-in (the step's path pointed at a stub)", () => {
  const dir = mkdtempSync(join(tmpdir(), "planned-failover-unit-"));
  try {
    mkdirSync(join(dir, "redis-server.service.d"));
    copyFileSync(PACKAGED_UNIT, join(dir, "redis-server.service"));
    const stub = join(dir, "step.sh");
    writeFileSync(stub, "#!/bin/bash\nexit 0\n", { mode: 0o755 });
    writeFileSync(join(dir, "redis-server.service.d", "30-planned-failover.conf"), renderPlannedFailoverDropIn().replace(PLANNED_FAILOVER_STEP_PATH, stub));
    const r = spawnSync("systemd-analyze", ["verify", join(dir, "redis-server.service")], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
    });
    expect({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, output: "" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("which nodes hand over", () => {
  test("every data node that runs a sentinel: the drop-in, the step, and its own address in node.env", () => {
    const json = synthGroup();
    const files = filesOf(json);
    expect(Object.keys(files).sort()).toEqual(["redis/master", "redis/replica-1", "redis/replica-2"]);
    for (const [node, nodeFiles] of Object.entries(files)) {
      expect({ node, dropIn: nodeFiles[PLANNED_FAILOVER_DROP_IN] }).toEqual({ node, dropIn: renderPlannedFailoverDropIn() });
      expect(nodeFiles[PLANNED_FAILOVER_STEP_PATH]).toMatch(/^#!\/bin\/bash\n/);
      const env = nodeFiles[NODE_ENV_PATH];
      expect(env).toContain(`NODE_ADDRESS='${eniAddressRef(json, node)}'`);
      expect(env).toMatch(/^SENTINEL_MASTER_NAME='main'$/m);
      expect(env).toMatch(/^NODE_OPS_PASSWORD_FILE=/m);
    }
  });

  test("with dedicated sentinels every data node hands over through them, as node-handover (its password kept root only); the sentinel nodes run no step", () => {
    const json = synthGroup({ sentinel: { dedicatedNodeCount: 3 } });
    const files = filesOf(json);
    const userData = userDataOf(json);
    expect(Object.keys(files).length).toBe(6);
    for (const node of ["redis/master", "redis/replica-1", "redis/replica-2"]) {
      expect({ node, dropIn: files[node][PLANNED_FAILOVER_DROP_IN] }).toEqual({ node, dropIn: renderPlannedFailoverDropIn() });
      const env = (name: string) => nodeEnvVariable(userData[node], name);
      expect(env("BOOT_PARTS")).toMatch(/ planned-failover ssm-agent$/);
      expect(env("NODE_ADDRESS")).toBe(eniAddressRef(json, node));
      expect([env("HANDOVER_USER"), env("HANDOVER_PASSWORD_FILE")]).toEqual(["node-handover", "/etc/redis-node/node-handover.password"]);
      // The sentinels it asks: the role decision's.
      expect(env("ROLE_SENTINELS")?.split(" ")).toHaveLength(3);
      expect(env("SENTINEL_PORT")).toBeUndefined();
    }
    for (const node of ["redis/sentinel-1", "redis/sentinel-2", "redis/sentinel-3"]) {
      expect({ node, dropIn: files[node][PLANNED_FAILOVER_DROP_IN] }).toEqual({ node, dropIn: undefined });
      expect(nodeEnvVariable(userData[node], "BOOT_PARTS")).not.toMatch(/planned-failover/);
      expect(nodeEnvVariable(userData[node], "HANDOVER_USER")).toBeUndefined();
    }
    // A group whose sentinels run on the data nodes asks its own, as node-ops.
    for (const u of Object.values(userDataOf(synthGroup()))) expect(nodeEnvVariable(u, "HANDOVER_USER")).toBeUndefined();
  });

  test("without Sentinel there is nobody to hand over to: no drop-in", () => {
    const files = filesOf(synthGroup({ sentinel: { enabled: false } }));
    expect(Object.values(files).filter((f) => f[PLANNED_FAILOVER_DROP_IN] !== undefined)).toEqual([]);
  });
});

describe("min-replicas-max-lag follows the failure detection", () => {
  test.each([
    { case: "the default down-after (5000 ms)", props: {}, lag: "5" },
    { case: "down-after 8000 ms", props: { sentinel: { downAfterMilliseconds: 8000 } }, lag: "8" },
    { case: "down-after 2500 ms, rounded up", props: { sentinel: { downAfterMilliseconds: 2500 } }, lag: "3" },
    { case: "down-after 1000 ms: at least 2 s, so one slow ack never blocks writes", props: { sentinel: { downAfterMilliseconds: 1000 } }, lag: "2" },
    { case: "set explicitly", props: { redis: { minReplicasMaxLag: 10 } }, lag: "10" },
  ])("$case: min-replicas-max-lag $lag", ({ props, lag }) => {
    const files = filesOf(synthGroup(props as Partial<RedisReplicationGroupProps>));
    for (const nodeFiles of Object.values(files)) {
      const conf = parseRedisConf(nodeFiles["/etc/redis-node/redis.conf.template"]);
      expect(directiveArgs(conf, "min-replicas-max-lag")).toEqual([lag]);
      expect(directiveArgs(conf, "min-replicas-to-write")).toEqual(["1"]);
    }
  });
});

describe("the step without a hand-over (no Redis needed)", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "planned-failover-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the step with `phase`; nothing listens on the ports it is given. */
  function step(phase: string, env: Record<string, string> = {}, withPassword = true, moreEnv = "", localSentinel = true) {
    const nodeEnv = join(dir, "node.env");
    const password = join(dir, "node-ops.password");
    writeFileSync(password, "0".repeat(64), { mode: 0o600 });
    if (!withPassword) unlinkSync(password);
    writeFileSync(
      nodeEnv,
      `REDIS_PORT='1'\n${localSentinel ? "SENTINEL_PORT='2'\nSENTINEL_MASTER_NAME='main'\n" : ""}NODE_ADDRESS='10.0.0.10'\nNODE_OPS_PASSWORD_FILE='${password}'\n${moreEnv}`,
    );
    const r = spawnSync("bash", [join(PARTS, "planned-failover.sh"), phase], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, REDIS_NODE_LIB: BOOT_LIB, REDIS_NODE_ENV: nodeEnv, REDIS_NODE_STATE_DIR: join(dir, "state"), REDIS_NODE_CLI_TIMEOUT: "1", ...env },
    });
    return { status: r.status, stderr: r.stderr };
  }

  test("the boot's prepare phase does nothing", () => {
    expect(step("prepare", { REDIS_NODE_SBIN: dir })).toEqual({ status: 0, stderr: "" });
    expect(readdirSync(dir).sort()).toEqual(["node-ops.password", "node.env"]);
  });

  test("with dedicated sentinels, prepare keeps node-handover's password root only, from the secrets the boot fetched", () => {
    const secrets = join(dir, "secrets");
    mkdirSync(secrets);
    writeFileSync(join(secrets, "node-handover.password"), "Handover.pw+1", { mode: 0o600 });
    const file = join(dir, "node-handover.password");
    const r = step("prepare", { REDIS_NODE_SECRETS_DIR: secrets }, true, `HANDOVER_USER='node-handover'\nHANDOVER_PASSWORD_FILE='${file}'\n`);
    expect(r).toEqual({ status: 0, stderr: "" });
    expect(readFileSync(file, "utf8")).toBe("Handover.pw+1");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test("with dedicated sentinels the start phase links the rolling restart's command too (it asks them as node-handover)", () => {
    expect(step("start", { REDIS_NODE_SBIN: dir }, true, "HANDOVER_USER='node-handover'\n", false)).toEqual({ status: 0, stderr: "" });
    expect(readlinkSync(join(dir, "redis-node-restart"))).toBe(join(BOOT_LIB, NODE_RESTART_ASSET));
  });

  test("with dedicated sentinels none of which answers, the stop goes on (exit 0) and the log says why", () => {
    const file = join(dir, "node-handover.password");
    writeFileSync(file, "Handover.pw+1", { mode: 0o600 });
    const remote = `HANDOVER_USER='node-handover'\nHANDOVER_PASSWORD_FILE='${file}'\nROLE_SENTINELS='127.0.0.1 127.0.0.2'\nROLE_SENTINEL_PORT='3'\nROLE_MASTER_NAME='main'\n`;
    const r = step("stop", {}, true, remote, false);
    expect(r.status).toBe(0);
    // From the last of the list to the first (clients ask the first ones first: the leader lags them).
    expect(r.stderr).toMatch(/the sentinel at 127\.0\.0\.2:3 does not answer as node-handover\n[^]*the sentinel at 127\.0\.0\.1:3 does not answer as node-handover\n/);
    expect(r.stderr).toMatch(/no hand-over: no sentinel to ask: none runs on this node, and none of the sentinels \(127\.0\.0\.1 127\.0\.0\.2\) answered as node-handover\n$/);
  });

  test("the boot's start phase links the rolling restart's command (a library file) into the PATH", () => {
    expect(step("start", { REDIS_NODE_SBIN: dir })).toEqual({ status: 0, stderr: "" });
    expect(NODE_RESTART_COMMAND).toBe("/usr/local/sbin/redis-node-restart");
    expect(readlinkSync(join(dir, "redis-node-restart"))).toBe(join(BOOT_LIB, NODE_RESTART_ASSET));
  });

  test("after a crash (systemd sets EXIT_CODE for ExecStop=) it only says so: the restart delay holds", () => {
    const r = step("stop", { EXIT_CODE: "dumped", EXIT_STATUS: "SEGV", SERVICE_RESULT: "core-dump" });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^planned-failover: no hand-over: redis-server is gone \(dumped SEGV\): a crash, not a stop/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("when redis-server does not answer, the stop goes on (exit 0) and the log says why", () => {
    const r = step("stop");
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/no hand-over: redis-server does not answer ROLE/);
  });

  test("without the node-ops password, the stop goes on and the log says why", () => {
    const r = step("stop", {}, false);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^planned-failover: cannot read .*node-ops.password: stopping without a hand-over\n$/);
  });

  test("whatever fails unexpectedly (here: no node.env), the stop goes on", () => {
    const r = step("stop", { REDIS_NODE_ENV: join(dir, "missing.env") });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/planned-failover: failed \(exit \d+\): redis-server stops without a hand-over/);
  });

  test("an unknown phase fails", () => {
    expect(step("go").status).toBe(1);
  });
});
