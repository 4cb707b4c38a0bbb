import { BOOT_LIB_DIR } from "../assets";
import { BootPart } from "../boot-part";

export const REDIS_ROLE_DROP_IN = "/etc/systemd/system/redis-server.service.d/40-role.conf";
/** Where the role step is on a node (a boot library file). */
export const REDIS_ROLE_STEP = `${BOOT_LIB_DIR}/parts/redis-role.sh`;
/** How long a node with a safe role to fall back on (a replica, a node with data) waits for any sentinel to answer. */
export const ROLE_ASK_SECONDS = 10;

/**
 * systemd drop-in for redis-server: the role decision before every start.
 * `+` runs it as root outside the unit's sandbox (it edits redis.conf and
 * reads sentinel.conf and the node's TLS key); the start may take the wait
 * on top of the packaged unit's 90 s.
 */
export function renderRoleDropIn(waitSeconds: number): string {
  return [
    "# Written by cloud-init: ask the sentinels for the master before every start.",
    "[Service]",
    `ExecStartPre=+${REDIS_ROLE_STEP} decide`,
    `TimeoutStartSec=${waitSeconds + 120}`,
    "",
  ].join("\n");
}

export interface RedisRolePartOptions {
  /** This node's address, as the sentinels name it. */
  readonly nodeAddress: string;
  /** Whether the node was created as the master. */
  readonly plannedMaster: boolean;
  /** The sentinels' addresses, space separated (this node's may be among them: it is skipped). */
  readonly sentinelAddresses: string;
  readonly sentinelPort: number;
  readonly masterName: string;
  /** How long an empty node waits for the sentinels to promote a replica (or to answer at all), in seconds. */
  readonly waitSeconds: number;
}

/**
 * Safe roles: before every start of redis-server (first boot, crash,
 * reboot, replacement) the node asks the other sentinels for the master and
 * starts as its replica, or as master only when that loses nothing. Runs on
 * data nodes with a sentinel, whose sentinel-peer login it borrows.
 */
export function redisRolePart(options: RedisRolePartOptions): BootPart {
  return {
    name: "redis-role",
    order: 31,
    packages: ["redis-tools"],
    files: [{ path: REDIS_ROLE_DROP_IN, permissions: "0644", content: renderRoleDropIn(options.waitSeconds) }],
    env: {
      ROLE_SELF: options.nodeAddress,
      ROLE_PLANNED: options.plannedMaster ? "master" : "replica",
      ROLE_SENTINELS: options.sentinelAddresses,
      ROLE_SENTINEL_PORT: String(options.sentinelPort),
      ROLE_MASTER_NAME: options.masterName,
      ROLE_ASK_SECONDS: String(ROLE_ASK_SECONDS),
      ROLE_WAIT_SECONDS: String(options.waitSeconds),
    },
    step: "redis-role.sh",
  };
}
