import { DataAwsRoute53Zone } from "@cdktf/provider-aws/lib/data-aws-route53-zone";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { Route53Zone } from "@cdktf/provider-aws/lib/route53-zone";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { DnsNamesSettings } from "../boot/parts/dns";
import { Problems, requireInteger, requirePattern } from "../private/validation";
import { RedisDnsOptions } from "./replication-group-props";

export const DEFAULT_DNS_TTL_SECONDS = 5;
/** Longer TTLs keep clients on a demoted master for minutes: not what the names are for. */
export const MAX_DNS_TTL_SECONDS = 300;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DOMAIN = "letters, digits and '-' in dot-separated labels of at most 63 characters, 253 in all";

/** A DNS name as Route 53's IAM condition keys compare it: lowercase, no trailing dot. */
export function normalizedName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function isDomain(name: string): boolean {
  return name.length <= 253 && name.split(".").every((label) => LABEL.test(label));
}

/** The group's construct id as a DNS label (lowercase), or undefined when it cannot be one. */
function groupLabel(groupId: string): string | undefined {
  const label = groupId.toLowerCase();
  return LABEL.test(label) ? label : undefined;
}

/** The writer and reader names of the options, defaults applied (normalized). */
export function dnsNamesOf(dns: RedisDnsOptions, groupId: string): { writerName: string; readerName: string } {
  const zone = normalizedName(dns.zoneName);
  const label = groupLabel(groupId) ?? "group";
  return {
    writerName: normalizedName(dns.writerName ?? `writer.${label}.${zone}`),
    readerName: normalizedName(dns.readerName ?? `reader.${label}.${zone}`),
  };
}

/** Every problem of the `dns` prop, literal values only. */
export function validateDns(p: Problems, dns: RedisDnsOptions | undefined, groupId: string, sentinelEnabled: boolean): void {
  if (!dns) return;
  if (!sentinelEnabled) p.add("dns needs Sentinel (the sentinels update the names on a failover): remove it, or leave sentinel.enabled at its default (true)");
  requireInteger(p, "dns.ttlSeconds", dns.ttlSeconds, 1, MAX_DNS_TTL_SECONDS);
  requirePattern(p, "dns.zoneId", dns.zoneId, /^Z[A-Z0-9]{1,31}$/, "expected a hosted zone id such as Z0123456789ABCDEFGHIJ");
  if (Token.isUnresolved(dns.zoneName)) {
    if (dns.writerName === undefined || dns.readerName === undefined) p.add("dns.zoneName is a token: give dns.writerName and dns.readerName as literal names");
    return;
  }
  const zone = normalizedName(dns.zoneName);
  if (!isDomain(zone) || !zone.includes(".")) {
    p.add(`dns.zoneName "${dns.zoneName}" is invalid: use a domain of at least two labels such as redis.internal (${DOMAIN})`);
    return;
  }
  if ((dns.writerName === undefined || dns.readerName === undefined) && groupLabel(groupId) === undefined) {
    p.add(`the group's id "${groupId}" is no DNS label (the default names use it): give dns.writerName and dns.readerName, or an id of letters, digits and '-'`);
  }
  const names = dnsNamesOf(dns, groupId);
  for (const [prop, name] of [["writerName", names.writerName], ["readerName", names.readerName]] as const) {
    const given = dns[prop];
    if (given !== undefined && Token.isUnresolved(given)) continue;
    if (!isDomain(name)) p.add(`dns.${prop} "${given ?? name}" is invalid: ${DOMAIN}`);
    else if (!name.endsWith(`.${zone}`)) p.add(`dns.${prop} "${given ?? name}" is not inside the zone ${zone}: use a name that ends in .${zone}`);
  }
  if (names.writerName === names.readerName) p.add(`dns.writerName and dns.readerName are the same name (${names.writerName}): use two names`);
}

export interface RedisDnsNamesProps {
  readonly options: RedisDnsOptions;
  /** The group's construct id, for the default names. */
  readonly groupId: string;
  readonly vpcId: string;
  readonly tags?: { [key: string]: string };
}

/**
 * The group's private hosted zone (the given one, or one made for the
 * group's VPC) and, once the nodes exist, the writer and reader records.
 * Terraform creates the records with the planned addresses and then leaves
 * their addresses to the nodes (ignore_changes), which move them on a failover.
 */
export class RedisDnsNames extends Construct {
  public readonly zoneId: string;
  public readonly zoneArn: string;
  public readonly writerName: string;
  public readonly readerName: string;
  public readonly ttlSeconds: number;

  constructor(scope: Construct, id: string, props: RedisDnsNamesProps) {
    super(scope, id);
    const { options } = props;
    if (options.zoneId !== undefined) {
      const zone = new DataAwsRoute53Zone(this, "zone", { zoneId: options.zoneId, privateZone: true });
      this.zoneId = options.zoneId;
      this.zoneArn = zone.arn;
    } else {
      const zone = new Route53Zone(this, "zone", {
        name: options.zoneName,
        comment: "Private zone of a Redis replication group's writer and reader names",
        vpc: [{ vpcId: props.vpcId }],
        tags: props.tags,
      });
      this.zoneId = zone.zoneId;
      this.zoneArn = zone.arn;
    }
    ({ writerName: this.writerName, readerName: this.readerName } = dnsNamesOf(options, props.groupId));
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_DNS_TTL_SECONDS;
  }

  /** What every sentinel's boot needs. */
  public get settings(): DnsNamesSettings {
    return { zoneId: this.zoneId, zoneArn: this.zoneArn, writerName: this.writerName, readerName: this.readerName, ttlSeconds: this.ttlSeconds };
  }

  /** The records, with the addresses the group is created with (the reader: the master's when there is no replica). */
  public addRecords(masterAddress: string, replicaAddresses: string[]): void {
    const record = (id: string, name: string, records: string[]) =>
      new Route53Record(this, id, { zoneId: this.zoneId, name, type: "A", ttl: this.ttlSeconds, records, lifecycle: { ignoreChanges: ["records"] } });
    record("writer", this.writerName, [masterAddress]);
    record("reader", this.readerName, replicaAddresses.length > 0 ? replicaAddresses : [masterAddress]);
  }
}
