import { sentinelHandoffFiles } from "./sentinel-handoff";
import { BootPart, IBootPartGrantee } from "../boot-part";
import { partStepPath } from "../cloud-config";

/** Where Sentinel's client-reconfig-script leaves a failover's new master (redis owns it; it survives a reboot). */
export const DNS_TRIGGER_DIR = "/var/lib/redis-node/dns";
const PART = { name: "dns", order: 36, packages: [], files: [], env: {}, step: "dns.sh" };
/**
 * Sentinel's client-reconfig-script: the part's own step, which leaves the
 * failover's new address for the root unit and exits at once (root's,
 * executable by redis, not writable by it).
 */
export const DNS_RECONFIG_SCRIPT = partStepPath(PART);
export const DNS_UNIT = "redis-dns";
export const DNS_DROP_IN = "/etc/systemd/system/redis-sentinel.service.d/31-dns.conf";
/** How often the timer checks the names (and the reader's healthy replicas), in seconds. */
export const DNS_CHECK_INTERVAL_SECONDS = 60;

/** The group's names, as every sentinel's boot sees them. */
export interface DnsNamesSettings {
  /** The private hosted zone's id (Z...). */
  readonly zoneId: string;
  /** The zone's ARN, for the node role's grant. */
  readonly zoneArn: string;
  /** Fully qualified, lowercase, without the trailing dot. */
  readonly writerName: string;
  readonly readerName: string;
  readonly ttlSeconds: number;
}

/**
 * Writer and reader names in Route 53, on every node that runs a sentinel:
 * the writer follows the master its sentinel names (once that node answers
 * ROLE as master), the reader the replicas its sentinel sees healthy. The
 * role may UPSERT A records of these two names in this zone only.
 */
export function dnsPart(settings: DnsNamesSettings): BootPart {
  return {
    ...PART,
    packages: ["redis-tools"],
    // The update: after a failover (the path unit), and every minute (healthy replicas come and go without one).
    files: sentinelHandoffFiles({ unit: DNS_UNIT, dir: DNS_TRIGGER_DIR, script: DNS_RECONFIG_SCRIPT, action: "update", dropIn: DNS_DROP_IN,
      timeout: "2min", every: `${DNS_CHECK_INTERVAL_SECONDS}s` }),
    env: {
      DNS_ZONE_ID: settings.zoneId,
      DNS_WRITER_NAME: settings.writerName,
      DNS_READER_NAME: settings.readerName,
      DNS_TTL: String(settings.ttlSeconds),
    },
    bind(grantee: IBootPartGrantee) {
      grantee.addToPolicy(dnsChangeStatement(settings));
      grantee.addToPolicy({ actions: ["route53:ListResourceRecordSets"], resources: [settings.zoneArn] });
    },
  };
}

/** UPSERT of the two names' A records, nothing else, in the zone (condition keys per Route 53's IAM documentation). */
export function dnsChangeStatement(settings: Pick<DnsNamesSettings, "zoneArn" | "writerName" | "readerName">) {
  return {
    actions: ["route53:ChangeResourceRecordSets"],
    resources: [settings.zoneArn],
    conditions: {
      "ForAllValues:StringEquals": {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [settings.writerName, settings.readerName],
        "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
        "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
      },
    },
  };
}
