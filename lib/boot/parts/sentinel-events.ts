import { sentinelHandoffFiles } from "./sentinel-handoff";
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
 * Failover events to Amazon EventBridge: Sentinel's notification script
 * spools them, a root unit outside Sentinel's sandbox publishes them with
 * the instance role; the role may put events of this source on this bus only.
 */
export function sentinelEventsPart(options: SentinelEventsPartOptions): BootPart {
  // The detail's fields that every event of the node shares, as the step
  // writes them into a JSON string inside JSON: escaped twice.
  const shared = JSON.stringify({ group: options.group, node: options.nodeAddress });
  return {
    ...PART,
    // The sender: when an event is spooled (the path unit), and every 2 minutes for what a failure left.
    files: sentinelHandoffFiles({ unit: SENTINEL_EVENTS_UNIT, dir: SENTINEL_EVENTS_DIR, script: SENTINEL_NOTIFY_SCRIPT, action: "send",
      dropIn: SENTINEL_EVENTS_DROP_IN, timeout: "10min", every: "2min" }),
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
