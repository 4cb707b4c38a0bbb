import { BootPart } from "../boot-part";
import { TEMPLATE_DIR } from "../cloud-config";
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

export interface RedisServerPartOptions {
  readonly conf: RedisConfSettings;
  /** Lowest Redis major version the boot accepts. */
  readonly minRedisMajor: number;
  /** Seconds systemd waits before restarting a crashed redis-server. @default - the packaged unit's setting */
  readonly restartDelaySeconds?: number;
}

/** redis-server: the package, redis.conf (rendered once at first boot), the unit's restart delay. */
export function redisServerPart(options: RedisServerPartOptions): BootPart {
  const delay = options.restartDelaySeconds;
  return {
    name: "redis-server",
    order: 30,
    packages: ["redis-server", "redis-tools"],
    files: [
      ...(delay !== undefined ? [{ path: REDIS_RESTART_DROP_IN, permissions: "0644", content: renderRestartDelay(delay) }] : []),
      { path: `${TEMPLATE_DIR}/redis.conf.template`, permissions: "0600", content: renderRedisConf(options.conf) },
    ],
    env: { REDIS_PORT: String(options.conf.port), MIN_REDIS_MAJOR: String(options.minRedisMajor) },
    step: "redis-server.sh",
  };
}
