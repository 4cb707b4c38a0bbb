import { BOOT_LIB_DIR } from "../assets";
import { BootPart } from "../boot-part";
import { TEMPLATE_DIR } from "../cloud-config";

export const REDIS_ROLE_DROP_IN = "/etc/systemd/system/redis-server.service.d/40-role.conf";
/** Where the role step is on a node (a boot library file). */
export const REDIS_ROLE_STEP = `${BOOT_LIB_DIR}/parts/redis-role.sh`;
/** How long a node with a safe role to fall back on (a replica, a node with data) waits for any sentinel to answer. */
export const ROLE_ASK_SECONDS = 10;

/**
 * Where a node that logs in to the sentinels with a user of its own
 * (`loginUser`; the planned failover's `remoteUser`) keeps that user's
 * password between boots: root only, copied from the secrets the boot
 * fetched, rewritten by password rotation's switch.
 */
export function rolePasswordPath(user: string): string {
  return `${TEMPLATE_DIR}/${user}.password`;
}

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
  /**
   * The user the node asks the sentinels as, with its password fetched at
   * boot (a data node of dedicated sentinels: sentinel-client).
   * @default - sentinel-peer with the password of the node's own sentinel.conf
   */
  readonly loginUser?: string;
}

/**
 * Safe roles: before every start of redis-server (first boot, crash,
 * reboot, replacement) the node asks the other sentinels for the master and
 * starts as its replica, or as master only when that loses nothing. Runs on
 * every data node watched by Sentinel: with a sentinel of its own it borrows
 * that one's sentinel-peer login, else it logs in as `loginUser`.
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
      ...(options.loginUser !== undefined ? { ROLE_USER: options.loginUser, ROLE_PASSWORD_FILE: rolePasswordPath(options.loginUser) } : {}),
    },
    step: "redis-role.sh",
  };
}
