import { readFileSync } from "fs";
import { join } from "path";
import { stringify } from "yaml";
import { RedisConfSettings, renderRedisConf } from "./redis-conf";
import { renderSentinelConf, SentinelConfSettings } from "./sentinel-conf";
import { renderSysctlConf, renderThpUnit, SYSCTL_FILE, THP_UNIT_FILE } from "./system-tuning";

/** Where the password lives; the node reads it with its instance role at boot. */
export enum SecretStore {
  /** SSM Parameter Store, a SecureString parameter. */
  SSM = "ssm",
  /** AWS Secrets Manager; the SecretString is the password. */
  SECRETS_MANAGER = "secretsmanager",
}

/** Everything a node's user data needs, fully resolved. */
export interface NodeBootSettings {
  /** redis.conf; undefined on a node that runs only Sentinel. */
  readonly redis?: RedisConfSettings;
  /** sentinel.conf; undefined on a node that runs no Sentinel. */
  readonly sentinel?: SentinelConfSettings;
  readonly secretStore: SecretStore;
  /** Parameter name or ARN (ssm), or secret ARN (secretsmanager). */
  readonly secretId: string;
  /** Lowest Redis major version the boot accepts. */
  readonly minRedisMajor: number;
  /**
   * Seconds systemd waits before restarting a crashed redis-server; undefined
   * keeps the packaged unit's setting.
   */
  readonly redisRestartDelaySeconds?: number;
}

export const SETUP_SCRIPT_PATH = "/usr/local/sbin/redis-node-setup";
export const NODE_ENV_PATH = "/etc/redis-node/node.env";
export const TEMPLATE_DIR = "/etc/redis-node";
export const REDIS_RESTART_DROP_IN = "/etc/systemd/system/redis-server.service.d/10-restart-delay.conf";
/** The EC2 limit on user data, in bytes. */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;

/** The boot script, shipped as a file so that shellcheck and editors see real shell. */
export function setupScript(): string {
  return readFileSync(join(__dirname, "assets", "redis-node-setup.sh"), "utf8");
}

/**
 * Escapes text for a Terraform string template, where `${` and `%{` start
 * interpolations: the user data is one, so literal shell must be escaped.
 */
export function escapeTerraformTemplate(text: string): string {
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}

/** What Terraform does to an escaped literal; tests use it to read user data back. */
export function unescapeTerraformTemplate(text: string): string {
  return text.replace(/\$\$\{/g, () => "${").replace(/%%\{/g, () => "%{");
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The settings file the boot script sources. */
export function renderNodeEnv(s: NodeBootSettings): string {
  const vars: Array<[string, string]> = [
    ["REDIS_SECRET_STORE", s.secretStore],
    ["REDIS_SECRET_ID", s.secretId],
    ["RUN_REDIS_SERVER", s.redis ? "yes" : "no"],
    ["RUN_SENTINEL", s.sentinel ? "yes" : "no"],
    ["REDIS_PORT", String(s.redis?.port ?? 6379)],
    ["SENTINEL_PORT", String(s.sentinel?.port ?? 26379)],
    ["MIN_REDIS_MAJOR", String(s.minRedisMajor)],
  ];
  return vars.map(([k, v]) => `${k}=${shellQuote(v)}`).join("\n") + "\n";
}

/**
 * systemd drop-in for redis-server. A master that crashed and came straight
 * back would reload an older snapshot and its replicas would follow it,
 * dropping the newer writes; kept down until Sentinel has promoted a
 * replica, it returns and is turned into a replica of the new master.
 */
export function renderRestartDelay(seconds: number): string {
  return [
    "# Written by cloud-init: let Sentinel fail over before a crashed redis-server returns.",
    "[Service]",
    `RestartSec=${seconds}`,
    "",
  ].join("\n");
}

interface WriteFile {
  readonly path: string;
  readonly permissions: string;
  readonly owner?: string;
  readonly content: string;
}

/**
 * Renders the #cloud-config user data of one node: packages, kernel tuning
 * that holds across reboots, config templates and the one-shot setup script.
 * The result is a Terraform string template (literal `${` escaped), so node
 * addresses may be Terraform references.
 */
export function renderCloudConfig(s: NodeBootSettings): string {
  if (!s.redis && !s.sentinel) throw new Error("A node must run redis-server, Sentinel or both");
  const packages = ["curl", "python3", "redis-tools"];
  if (s.redis) packages.push("redis-server");
  if (s.sentinel) packages.push("redis-sentinel");

  const files: WriteFile[] = [
    { path: SYSCTL_FILE, permissions: "0644", content: renderSysctlConf(s.redis?.tcpBacklog ?? 511) },
    { path: THP_UNIT_FILE, permissions: "0644", content: renderThpUnit() },
    { path: NODE_ENV_PATH, permissions: "0600", content: renderNodeEnv(s) },
  ];
  if (s.redis && s.redisRestartDelaySeconds !== undefined) {
    files.push({ path: REDIS_RESTART_DROP_IN, permissions: "0644", content: renderRestartDelay(s.redisRestartDelaySeconds) });
  }
  if (s.redis) {
    files.push({ path: `${TEMPLATE_DIR}/redis.conf.template`, permissions: "0600", content: renderRedisConf(s.redis) });
  }
  if (s.sentinel) {
    files.push({
      path: `${TEMPLATE_DIR}/sentinel.conf.template`,
      permissions: "0600",
      content: renderSentinelConf(s.sentinel),
    });
  }
  files.push({ path: SETUP_SCRIPT_PATH, permissions: "0755", content: escapeTerraformTemplate(setupScript()) });

  const doc = {
    package_update: true,
    packages,
    write_files: files.map((f) => ({ path: f.path, owner: f.owner ?? "root:root", permissions: f.permissions, content: f.content })),
    runcmd: [[SETUP_SCRIPT_PATH]],
  };
  return "#cloud-config\n" + stringify(doc, { lineWidth: 0, blockQuote: "literal" });
}
