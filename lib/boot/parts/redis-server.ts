import { BootPart } from "../boot-part";
import { TEMPLATE_DIR } from "../cloud-config";
import { AclUser, BUILTIN_USERS, dataNodeUsers, renderAclFile } from "../render/acl";
import { RedisConfSettings, renderRedisConf } from "../render/redis-conf";

export const REDIS_RESTART_DROP_IN = "/etc/systemd/system/redis-server.service.d/10-restart-delay.conf";

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

/**
 * systemd drop-in for redis-server and redis-sentinel: files that Redis
 * rewrites (CONFIG REWRITE, ACL SAVE, Sentinel's config) stay 0640, and the
 * processes cannot reach the instance metadata service (the role's keys).
 */
export function renderHardeningDropIn(): string {
  return [
    "# Written by cloud-init: private rewritten configs, no instance metadata for Redis.",
    "[Service]",
    "UMask=0027",
    "IPAddressDeny=169.254.169.254/32 fd00:ec2::254/128",
    "",
  ].join("\n");
}

export const REDIS_OPEN_FILES_DROP_IN = "/etc/systemd/system/redis-server.service.d/30-open-files.conf";

/**
 * systemd drop-in for redis-server: room for maxclients connections. With
 * fewer descriptors than maxclients + 32, Redis lowers maxclients itself at
 * start and only logs it.
 */
export function renderOpenFilesDropIn(limit: number | string): string {
  return ["# Written by cloud-init: descriptors for maxclients + 32.", "[Service]", `LimitNOFILE=${limit}`, ""].join("\n");
}

/** Where the hardening drop-in of a unit goes. */
export function hardeningDropInPath(unit: string): string {
  return `/etc/systemd/system/${unit}.d/20-hardening.conf`;
}

export interface RedisServerPartOptions {
  readonly conf: RedisConfSettings;
  /** The application users (the library's own users are added). */
  readonly applicationUsers: readonly AclUser[];
  /** Whether sentinels watch the node (they log in as the sentinel user). */
  readonly sentinelUser: boolean;
  /** Lowest Redis major version the boot accepts. */
  readonly minRedisMajor: number;
  /** Seconds systemd waits before restarting a crashed redis-server. @default - the packaged unit's setting */
  readonly restartDelaySeconds?: number;
  /** LimitNOFILE of redis-server: at least maxclients + 32 (a number, or a Terraform expression). */
  readonly openFilesLimit: number | string;
}

/** redis-server: the package, redis.conf and the ACL file (rendered once at first boot), the unit's restart delay and open files. */
export function redisServerPart(options: RedisServerPartOptions): BootPart {
  const delay = options.restartDelaySeconds;
  return {
    name: "redis-server",
    order: 30,
    packages: ["redis-server", "redis-tools"],
    files: [
      ...(delay !== undefined ? [{ path: REDIS_RESTART_DROP_IN, permissions: "0644", content: renderRestartDelay(delay) }] : []),
      { path: hardeningDropInPath("redis-server.service"), permissions: "0644", content: renderHardeningDropIn() },
      { path: REDIS_OPEN_FILES_DROP_IN, permissions: "0644", content: renderOpenFilesDropIn(options.openFilesLimit) },
      { path: `${TEMPLATE_DIR}/redis.conf.template`, permissions: "0600", content: renderRedisConf(options.conf) },
      { path: `${TEMPLATE_DIR}/users.acl.template`, permissions: "0600", content: renderAclFile(dataNodeUsers(options.applicationUsers, options.sentinelUser)) },
    ],
    // The boot checks the server as the replication user, whose password this node holds.
    env: { REDIS_PORT: String(options.conf.port), MIN_REDIS_MAJOR: String(options.minRedisMajor), REDIS_HEALTH_USER: BUILTIN_USERS.replication },
    step: "redis-server.sh",
    services: ["redis-server.service"],
  };
}
