import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { Construct } from "constructs";
import { DEFAULT_REDIS_PORT, DEFAULT_SENTINEL_PORT } from "../private/defaults";
import { checkNow, requireAwsId, requireDistinctPorts, requirePort } from "../private/validation";
import { RedisConnections } from "./connections";
import { RedisPeer } from "./peer";

/** Where the nodes' outbound connections may go, by purpose. */
export interface RedisEgressOptions {
  /**
   * Where the nodes reach the AWS APIs they call, on TCP 443: SSM
   * Parameter Store (passwords, TLS files), Secrets Manager (secrets you
   * bring), and Session Manager (ssmmessages, ec2messages). Give the
   * security group of your VPC interface endpoints to keep this traffic in
   * the VPC.
   * @default [RedisPeer.anyIpv4()] (through a NAT gateway)
   */
  readonly awsApis?: RedisPeer[];
  /**
   * Where the nodes fetch packages at their first boot, on TCP 80 and 443:
   * apt (redis-server, redis-sentinel, openssl). Give your mirror's or
   * proxy's address, or [] when the image (`amiId`) already has Redis 7.
   * @default [RedisPeer.anyIpv4()]
   */
  readonly packageMirrors?: RedisPeer[];
}

export interface RedisSecurityGroupProps {
  /** VPC of the group. */
  readonly vpcId: string;
  /** @default 6379 */
  readonly redisPort?: number;
  /** @default 26379 */
  readonly sentinelPort?: number;
  /**
   * Port of the metrics exporter, when the nodes run one: the METRICS port
   * kind that `connections.allowFrom` may open (closed until then).
   * @default - none
   */
  readonly metricsPort?: number;
  /**
   * Allow all outbound traffic. Off, the nodes may reach only what `egress`
   * names and the Redis ports of the group.
   * @default false
   */
  readonly allowAllOutbound?: boolean;
  /**
   * Where the nodes' outbound connections may go besides the group's own
   * ports (not with `allowAllOutbound`).
   * @default - TCP 443 (AWS APIs, apt over TLS) and 80 (apt) anywhere
   */
  readonly egress?: RedisEgressOptions;
  /** @default - the construct path */
  readonly description?: string;
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
}

/**
 * The security group of the Redis nodes. Nodes reach each other on the Redis
 * and Sentinel ports; everything else must be allowed by name
 * (`allowFromSecurityGroup`, `allowFromCidr`, `allowFromAnyIpv4`, or
 * `connections.allowFrom` for a chosen port kind).
 */
export class RedisSecurityGroup extends Construct {
  /** @attribute */
  public readonly securityGroupId: string;
  /** Port of redis-server on the nodes. */
  public readonly redisPort: number;
  /** Port of Redis Sentinel on the nodes. */
  public readonly sentinelPort: number;
  /**
   * The group's ingress rules, addressed by source: allow further peers and
   * port kinds here (`connections.allowFrom(RedisPeer.ipv4(...), { ports })`).
   */
  public readonly connections: RedisConnections;

  constructor(scope: Construct, id: string, props: RedisSecurityGroupProps) {
    super(scope, id);
    this.redisPort = props.redisPort ?? DEFAULT_REDIS_PORT;
    this.sentinelPort = props.sentinelPort ?? DEFAULT_SENTINEL_PORT;
    checkNow(this, (p) => {
      requirePort(p, "redisPort", this.redisPort);
      requirePort(p, "sentinelPort", this.sentinelPort);
      requirePort(p, "metricsPort", props.metricsPort);
      requireDistinctPorts(p, { redisPort: this.redisPort, sentinelPort: this.sentinelPort, metricsPort: props.metricsPort });
      requireAwsId(p, "vpcId", props.vpcId, "vpc");
      if (props.allowAllOutbound && props.egress) p.add("allowAllOutbound and egress exclude each other: allowAllOutbound already allows everything");
    });
    for (const [prop, peers] of Object.entries(props.egress ?? {})) {
      for (const peer of (peers as RedisPeer[] | undefined) ?? []) peer.validate(this, `egress.${prop}`);
    }

    const group = new SecurityGroup(this, "group", {
      vpcId: props.vpcId,
      description: props.description ?? `Redis nodes of ${this.node.path}`,
      tags: props.tags,
      // Rules are separate resources; an inline rule set would fight them.
      lifecycle: { createBeforeDestroy: true },
    });
    this.securityGroupId = group.id;

    // Created in this construct, not below it: the rules keep the Terraform
    // addresses they had before connections existed (ingress-redis-self, ...).
    this.connections = new RedisConnections(this, {
      securityGroupId: this.securityGroupId,
      ports: { redis: this.redisPort, sentinel: this.sentinelPort, metrics: props.metricsPort },
    });
    this.connections.allowInternally();
    for (const [name, port] of [["redis", this.redisPort], ["sentinel", this.sentinelPort]] as const) {
      new VpcSecurityGroupEgressRule(this, `egress-${name}-self`, {
        securityGroupId: group.id,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        referencedSecurityGroupId: group.id,
        description: `${name} to the other Redis nodes`,
      });
    }
    if (props.allowAllOutbound) {
      new VpcSecurityGroupEgressRule(this, "egress-all", {
        securityGroupId: group.id,
        ipProtocol: "-1",
        cidrIpv4: "0.0.0.0/0",
        description: "all outbound (allowAllOutbound)",
      });
    } else {
      this.addEgressRules(group.id, props.egress ?? {});
    }
  }

  /**
   * One rule per destination and port, whatever purposes share it; the
   * default destination (anywhere) keeps the rule addresses egress-80 and
   * egress-443, so groups made before `egress` existed see no change.
   */
  private addEgressRules(securityGroupId: string, egress: RedisEgressOptions): void {
    const anywhere = [RedisPeer.anyIpv4()];
    const wanted: Array<[RedisPeer[], number, string]> = [
      [egress.packageMirrors ?? anywhere, 80, "apt package mirrors"],
      [egress.awsApis ?? anywhere, 443, "AWS APIs (SSM, secret store, Session Manager)"],
      [egress.packageMirrors ?? anywhere, 443, "apt over TLS"],
    ];
    const rules = new Map<string, { peer: RedisPeer; port: number; purposes: string[] }>();
    for (const [peers, port, purpose] of wanted) {
      for (const peer of peers) {
        const key = `${port}-${peer.keyIn(this)}`;
        const rule = rules.get(key) ?? { peer, port, purposes: [] };
        rule.purposes.push(purpose);
        rules.set(key, rule);
      }
    }
    for (const [key, { peer, port, purposes }] of rules) {
      new VpcSecurityGroupEgressRule(this, key === `${port}-any-ipv4` ? `egress-${port}` : `egress-${key}`, {
        securityGroupId,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        ...peer.toRuleSource(),
        description: purposes.join(", "),
      });
    }
  }

  /** Lets members of another security group reach Redis and Sentinel. */
  public allowFromSecurityGroup(securityGroupId: string, description?: string): void {
    this.connections.allowFromSecurityGroup(securityGroupId, description);
  }

  /** Lets an IPv4 CIDR block reach Redis and Sentinel. */
  public allowFromCidr(cidr: string, description?: string): void {
    this.connections.allowFromCidr(cidr, description);
  }

  /** Opens Redis and Sentinel to every IPv4 address. Only for those who ask by name. */
  public allowFromAnyIpv4(description?: string): void {
    this.connections.allowFromAnyIpv4(description);
  }
}
