import { BootPart, IBootPartGrantee } from "../boot-part";
import { partStepPath } from "../cloud-config";

/** What the events of every group carry: the IAM condition and a rule match on them. */
export const SENTINEL_EVENT_SOURCE = "redis-replication";
export const SENTINEL_EVENT_DETAIL_TYPE = "Redis Sentinel event";
/** The Sentinel events that are published; Sentinel's others are not. */
export const PUBLISHED_SENTINEL_EVENTS = ["+odown", "-odown", "+switch-master", "+failover-end"] as const;

/** Where Sentinel's notification script spools the events (redis owns it; it survives a reboot). */
export const SENTINEL_EVENTS_DIR = "/var/lib/redis-node/events";
const PART = { name: "sentinel-events", order: 35, packages: [], files: [], env: {}, step: "sentinel-events.sh" };
/**
 * Sentinel's notification-script: the part's own step, which spools the
 * event when its first argument is one (root's, executable by redis, not
 * writable by it).
 */
export const SENTINEL_NOTIFY_SCRIPT = partStepPath(PART);
export const SENTINEL_EVENTS_UNIT = "redis-sentinel-events";
export const SENTINEL_EVENTS_DROP_IN = "/etc/systemd/system/redis-sentinel.service.d/30-events.conf";

export interface SentinelEventsPartOptions {
  /** What the events name as their group (the group's construct path). */
  readonly group: string;
  /** The node's own address: which sentinel saw the event. */
  readonly nodeAddress: string;
  /** Where PutEvents puts them: "default" or a bus ARN (its region is used). */
  readonly eventBus: string;
  /** The bus's ARN, for the node role's grant. */
  readonly eventBusArn: string;
}

/**
 * redis-sentinel's sandbox (ProtectSystem=strict, NoExecPaths=/ in the
 * Debian and Ubuntu unit): the spool becomes writable, and the notification
 * script, bash and mv executable (Sentinel checks the script at startup,
 * and does not start without it).
 */
export function renderSentinelEventsDropIn(): string {
  return ["[Service]", `ReadWritePaths=${SENTINEL_EVENTS_DIR}`, `ExecPaths=${SENTINEL_NOTIFY_SCRIPT} /usr/bin/bash /usr/bin/mv`, ""].join("\n");
}

/**
 * The root oneshot that publishes the spool (quiet but for warnings and what
 * it published: the timer runs it every 2 minutes), the path unit that starts
 * it when an event is spooled, and the timer that retries what a failure left.
 */
export function renderSentinelEventsUnits(): Record<string, string> {
  const unit = (...lines: string[]) => [...lines, ""].join("\n");
  return {
    service: unit("[Service]", "Type=oneshot", `ExecStart=${SENTINEL_NOTIFY_SCRIPT} send`, "TimeoutStartSec=10min", "LogLevelMax=notice"),
    path: unit("[Path]", `PathChanged=${SENTINEL_EVENTS_DIR}`, "[Install]", "WantedBy=paths.target"),
    timer: unit("[Timer]", "OnBootSec=1min", "OnUnitInactiveSec=2min", "[Install]", "WantedBy=timers.target"),
  };
}

/**
 * Failover events to Amazon EventBridge: Sentinel's notification script
 * spools them, a root unit outside Sentinel's sandbox publishes them with
 * the instance role; the role may put events of this source on this bus only.
 */
export function sentinelEventsPart(options: SentinelEventsPartOptions): BootPart {
  const units = renderSentinelEventsUnits();
  // The detail's fields that every event of the node shares, as the step
  // writes them into a JSON string inside JSON: escaped twice.
  const shared = JSON.stringify({ group: options.group, node: options.nodeAddress });
  return {
    ...PART,
    files: [
      { path: SENTINEL_EVENTS_DROP_IN, permissions: "0644", content: renderSentinelEventsDropIn() },
      { path: `/etc/systemd/system/${SENTINEL_EVENTS_UNIT}.service`, permissions: "0644", content: units.service },
      { path: `/etc/systemd/system/${SENTINEL_EVENTS_UNIT}.path`, permissions: "0644", content: units.path },
      { path: `/etc/systemd/system/${SENTINEL_EVENTS_UNIT}.timer`, permissions: "0644", content: units.timer },
    ],
    env: {
      EVENTS_BUS: options.eventBus,
      EVENTS_SOURCE: SENTINEL_EVENT_SOURCE,
      EVENTS_DETAIL_TYPE: SENTINEL_EVENT_DETAIL_TYPE,
      EVENTS_DETAIL: JSON.stringify(shared.slice(1, -1)).slice(1, -1),
    },
    bind(grantee: IBootPartGrantee) {
      grantee.addToPolicy({
        actions: ["events:PutEvents"],
        resources: [options.eventBusArn],
        conditions: { StringEquals: { "events:source": [SENTINEL_EVENT_SOURCE] } },
      });
    },
  };
}
