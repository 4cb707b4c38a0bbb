import { BootPart } from "../boot-part";
import { partStepPath } from "../cloud-config";
import { rolePasswordPath } from "./redis-role";

const NAME = "planned-failover";
const ORDER = 45;
const STEP = "planned-failover.sh";
/** Where the part's step lands; systemd runs it with "stop" before redis-server stops. */
export const PLANNED_FAILOVER_STEP_PATH = partStepPath({ step: STEP });
export const PLANNED_FAILOVER_DROP_IN = "/etc/systemd/system/redis-server.service.d/30-planned-failover.conf";
/** The rolling restart's node command: the step's start links it to the library's node-restart.sh (the user data carries neither). */
export const NODE_RESTART_COMMAND = "/usr/local/sbin/redis-node-restart";

/**
 * systemd drop-in for redis-server: before a stop, the master hands its role
 * over (the step tells a stop from a crash, for which systemd runs ExecStop=
 * too). `+`: the step runs as root outside the unit's sandbox (it reads the
 * root-only node-ops password and runs bash, which NoExecPaths= forbids the
 * server). After= the sentinel: units stop in reverse order, so on a reboot
 * the sentinel the step asks is still up (a node of dedicated sentinels has
 * none: the ordering then orders nothing).
 */
export function renderPlannedFailoverDropIn(): string {
  return [
    "# Written by cloud-init: the master hands its role over before it stops.",
    "[Unit]",
    "After=redis-sentinel.service",
    "[Service]",
    `ExecStop=+${PLANNED_FAILOVER_STEP_PATH} stop`,
    "",
  ].join("\n");
}

export interface PlannedFailoverPartOptions {
  /** This node's address, as the sentinels name it. */
  readonly nodeAddress: string;
  readonly redisPort: number;
  /**
   * The user a data node of dedicated sentinels logs in to them as (its
   * password fetched at boot, kept root only by the step's prepare); the
   * sentinels are the role decision's (ROLE_SENTINELS, ROLE_SENTINEL_PORT).
   * @default - the node's own sentinel, as node-ops
   */
  readonly remoteUser?: string;
}

/**
 * The planned failover of a data node watched by Sentinel: when
 * redis-server is stopped on purpose on the current master, writes pause,
 * a sentinel fails over (the node's own, or one of the dedicated ones), and
 * the clients' connections close once the sentinels name the new master
 * (see the step for each check and bound).
 */
export function plannedFailoverPart(options: PlannedFailoverPartOptions): BootPart {
  const remote = options.remoteUser;
  return {
    name: NAME,
    order: ORDER,
    packages: ["redis-tools"],
    files: [{ path: PLANNED_FAILOVER_DROP_IN, permissions: "0644", content: renderPlannedFailoverDropIn() }],
    env: {
      NODE_ADDRESS: options.nodeAddress,
      REDIS_PORT: String(options.redisPort),
      ...(remote !== undefined ? { HANDOVER_USER: remote, HANDOVER_PASSWORD_FILE: rolePasswordPath(remote) } : {}),
    },
    step: STEP,
  };
}
