import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import {
  escapeTerraformTemplate,
  SecretStore,
  NODE_ENV_PATH,
  NodeBootSettings,
  REDIS_RESTART_DROP_IN,
  renderCloudConfig,
  renderNodeEnv,
  renderRedisConf,
  renderSentinelConf,
  SETUP_SCRIPT_PATH,
  setupScript,
  SYSCTL_FILE,
  THP_UNIT_FILE,
  unescapeTerraformTemplate,
} from "../../lib/config";
import { cloudConfigFiles, parseCloudConfig, redisConfSettings, sentinelConfSettings } from "../helpers";

/** `${` or `%{` that Terraform would read as the start of an interpolation or directive. */
const UNESCAPED_TEMPLATE_SEQUENCE = /(?<!\$)\$\{|(?<!%)%\{/;

describe("escapeTerraformTemplate / unescapeTerraformTemplate", () => {
  // Every string of length <= 5 over the characters that matter.
  const alphabet = ["$", "%", "{", "}", "a"];
  const samples: string[] = [""];
  for (let len = 1; len <= 5; len++) {
    for (const prefix of samples.filter((s) => s.length === len - 1)) for (const c of alphabet) samples.push(prefix + c);
  }

  test("round trips every short string over $ % { } a", () => {
    const broken = samples.filter((s) => unescapeTerraformTemplate(escapeTerraformTemplate(s)) !== s);
    expect(broken).toEqual([]);
  });

  test("leaves no ${ or %{ that is not escaped", () => {
    const leaking = samples.map(escapeTerraformTemplate).filter((s) => UNESCAPED_TEMPLATE_SEQUENCE.test(s));
    expect(leaking).toEqual([]);
  });

  test("escapes shell parameter expansions of the setup script", () => {
    const escaped = escapeTerraformTemplate(setupScript());
    expect(setupScript()).toMatch(/\$\{/);
    expect(escaped).not.toMatch(UNESCAPED_TEMPLATE_SEQUENCE);
    expect(escaped).toContain("$${REDIS_NODE_ENV:-/etc/redis-node/node.env}");
    expect(unescapeTerraformTemplate(escaped)).toBe(setupScript());
  });

  test("keeps text without template sequences as it is", () => {
    expect(escapeTerraformTemplate("echo $HOME 100% {x}")).toBe("echo $HOME 100% {x}");
  });
});

const dataNode: NodeBootSettings = {
  redis: redisConfSettings({ tcpBacklog: 10000 }),
  sentinel: sentinelConfSettings(),
  secretStore: SecretStore.SSM,
  secretId: "/redis/password",
  minRedisMajor: 7,
};

describe("renderCloudConfig", () => {
  const userData = renderCloudConfig(dataNode);
  const doc = parseCloudConfig(userData);
  const files = cloudConfigFiles(userData);

  test("installs Redis, Sentinel and what the setup script needs", () => {
    expect(doc.package_update).toBe(true);
    expect(doc.packages).toEqual(expect.arrayContaining(["redis-server", "redis-sentinel", "redis-tools", "curl", "python3"]));
  });

  test("writes each rendered file unchanged", () => {
    expect(files["/etc/redis-node/redis.conf.template"]).toBe(renderRedisConf(dataNode.redis!));
    expect(files["/etc/redis-node/sentinel.conf.template"]).toBe(renderSentinelConf(dataNode.sentinel!));
    expect(files[NODE_ENV_PATH]).toBe(renderNodeEnv(dataNode));
    expect(files[SETUP_SCRIPT_PATH]).toBe(setupScript());
  });

  test("tunes the kernel for the node's tcp-backlog", () => {
    expect(files[SYSCTL_FILE]).toMatch(/^net\.core\.somaxconn = 10000$/m);
    expect(files[SYSCTL_FILE]).toMatch(/^vm\.overcommit_memory = 1$/m);
    expect(files[THP_UNIT_FILE]).toMatch(/transparent_hugepage\/enabled/);
  });

  test("keeps secrets and scripts private, the setup script executable", () => {
    const modes = Object.fromEntries((doc.write_files as Array<{ path: string; permissions: string }>).map((f) => [f.path, f.permissions]));
    expect(modes[NODE_ENV_PATH]).toBe("0600");
    expect(modes["/etc/redis-node/redis.conf.template"]).toBe("0600");
    expect(modes[SETUP_SCRIPT_PATH]).toBe("0755");
  });

  test("runs the setup script once, from runcmd", () => {
    expect(doc.runcmd).toEqual([[SETUP_SCRIPT_PATH]]);
  });

  test("is a Terraform template with nothing to interpolate when every value is literal", () => {
    expect(userData).not.toMatch(UNESCAPED_TEMPLATE_SEQUENCE);
  });

  test("a sentinel-only node gets no redis-server and no redis.conf", () => {
    const sentinelOnly = renderCloudConfig({ ...dataNode, redis: undefined });
    const only = cloudConfigFiles(sentinelOnly);
    expect(parseCloudConfig(sentinelOnly).packages).not.toContain("redis-server");
    expect(parseCloudConfig(sentinelOnly).packages).toContain("redis-sentinel");
    expect(Object.keys(only)).not.toContain("/etc/redis-node/redis.conf.template");
    expect(Object.keys(only)).toContain("/etc/redis-node/sentinel.conf.template");
  });

  test("a redis-only node gets no sentinel", () => {
    const redisOnly = renderCloudConfig({ ...dataNode, sentinel: undefined });
    expect(parseCloudConfig(redisOnly).packages).not.toContain("redis-sentinel");
    expect(Object.keys(cloudConfigFiles(redisOnly))).not.toContain("/etc/redis-node/sentinel.conf.template");
  });

  test("a restart delay becomes a redis-server drop-in; none without one or without redis-server", () => {
    const delayed = cloudConfigFiles(renderCloudConfig({ ...dataNode, redisRestartDelaySeconds: 15 }));
    expect(REDIS_RESTART_DROP_IN).toMatch(/^\/etc\/systemd\/system\/redis-server\.service\.d\/[\w-]+\.conf$/);
    expect(delayed[REDIS_RESTART_DROP_IN]).toMatch(/^\[Service\]\nRestartSec=15$/m);
    expect(files[REDIS_RESTART_DROP_IN]).toBeUndefined();
    const sentinelOnly = cloudConfigFiles(renderCloudConfig({ ...dataNode, redis: undefined, redisRestartDelaySeconds: 15 }));
    expect(sentinelOnly[REDIS_RESTART_DROP_IN]).toBeUndefined();
  });

  test("refuses a node that runs nothing", () => {
    expect(() => renderCloudConfig({ ...dataNode, redis: undefined, sentinel: undefined })).toThrow(/redis-server, Sentinel or both/);
  });
});

describe("renderNodeEnv", () => {
  test("bash reads back every value, quotes included", () => {
    const dir = mkdtempSync(join(tmpdir(), "node-env-"));
    try {
      const file = join(dir, "node.env");
      writeFileSync(file, renderNodeEnv({ ...dataNode, secretStore: SecretStore.SECRETS_MANAGER, secretId: "it's $HOME `x` \"y\"", sentinel: undefined }));
      const vars = ["REDIS_SECRET_STORE", "REDIS_SECRET_ID", "RUN_REDIS_SERVER", "RUN_SENTINEL", "REDIS_PORT", "SENTINEL_PORT", "MIN_REDIS_MAJOR"];
      const out = spawnSync("bash", ["-c", `set -eu; source "$1"; printf '%s\\n' ${vars.map((v) => `"$${v}"`).join(" ")}`, "_", file], {
        encoding: "utf8",
      });
      expect(out.stderr).toBe("");
      expect(out.stdout.split("\n").slice(0, -1)).toEqual(["secretsmanager", "it's $HOME `x` \"y\"", "yes", "no", "6379", "26379", "7"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
