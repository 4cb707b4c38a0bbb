import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { IConstruct } from "constructs";
import { checkNow, requireAwsId, requireDistinctPorts, requireNonEmptyList, requirePort } from "../private/validation";
import { RedisPeer } from "./peer";
import { portNumberOf, RedisConnectionPorts, RedisPortKind } from "./port";

/** Key of the rules that let the group's members reach each other. */
const SELF_KEY = "self";

export interface RedisConnectionsProps {
  /**
   * The group that receives the ingress rules: a literal id or a token, of a
   * group created in this stack or imported from another one.
   */
  readonly securityGroupId: string;
  /** The port number of each kind, as the nodes listen on them. */
  readonly ports: RedisConnectionPorts;
  /**
   * The port kinds a client needs, opened by `allowFrom` when its caller
   * names none and by the `allowFrom...` shortcuts.
   * @default [RedisPortKind.REDIS, RedisPortKind.SENTINEL]
   */
  readonly defaultPortKinds?: RedisPortKind[];
}

export interface RedisAllowFromOptions {
  /**
   * The port kinds the peer may reach.
   * @default - the default port kinds of the connections (Redis and Sentinel)
   */
  readonly ports?: RedisPortKind[];
  /**
   * Who the peer is, for the rules' descriptions ("<kind> from <description>").
   * @default - the peer's id or CIDR block
   */
  readonly description?: string;
}

/**
 * The ingress rules of one security group, each addressed by its source and
 * port kind (`ingress-<kind>-<source>`), never by a counter: removing one
 * source leaves every other rule's Terraform address alone, and allowing a
 * source twice is a no-op instead of a duplicate rule that AWS refuses.
 *
 * A plain class rather than a construct, like aws-cdk's `Connections`: the
 * rules are created directly in `scope`, so a group that owns its
 * connections keeps the rule addresses it had before they existed, and a
 * stack that only imports a group's id chooses where the rules live. Give each
 * group's connections a scope of their own: two in one scope would ask for
 * the same construct ids, which constructs refuses.
 */
export class RedisConnections {
  /** @attribute */
  public readonly securityGroupId: string;
  /** The port kinds a client gets when its caller names none. */
  public readonly defaultPortKinds: RedisPortKind[];
  private readonly scope: IConstruct;
  private readonly ports: RedisConnectionPorts;
  /** The group itself as a source, so that a rule naming it joins the self rules. */
  private readonly selfSourceKey: string;
  private readonly rules = new Map<string, VpcSecurityGroupIngressRule>();

  constructor(scope: IConstruct, props: RedisConnectionsProps) {
    const defaultPortKinds = props.defaultPortKinds ?? [RedisPortKind.REDIS, RedisPortKind.SENTINEL];
    checkNow(scope, (p) => {
      requireAwsId(p, "securityGroupId", props.securityGroupId, "sg");
      requirePort(p, "ports.redis", props.ports.redis);
      requirePort(p, "ports.sentinel", props.ports.sentinel);
      requirePort(p, "ports.metrics", props.ports.metrics);
      // Two kinds on one port would ask for the same rule twice; AWS refuses duplicates.
      requireDistinctPorts(p, { "ports.redis": props.ports.redis, "ports.sentinel": props.ports.sentinel, "ports.metrics": props.ports.metrics });
      requireNonEmptyList(p, "defaultPortKinds", defaultPortKinds);
    });
    this.scope = scope;
    this.securityGroupId = props.securityGroupId;
    this.ports = { ...props.ports };
    this.defaultPortKinds = [...defaultPortKinds];
    this.selfSourceKey = RedisPeer.securityGroupId(props.securityGroupId).keyIn(scope);
  }

  /** The port number of `kind`. */
  public portOf(kind: RedisPortKind): number {
    return portNumberOf(this.ports, kind);
  }

  /**
   * Lets `peer` reach the given port kinds: one rule per kind. A kind
   * already open to this peer keeps its rule and description.
   */
  public allowFrom(peer: RedisPeer, options: RedisAllowFromOptions = {}): void {
    this.allow("allowFrom", peer, options.ports ?? this.defaultPortKinds, options.description);
  }

  /** Lets members of another security group reach the default port kinds. */
  public allowFromSecurityGroup(securityGroupId: string, description?: string): void {
    this.allow("allowFromSecurityGroup", RedisPeer.securityGroupId(securityGroupId), this.defaultPortKinds, description);
  }

  /** Lets an IPv4 CIDR block reach the default port kinds. */
  public allowFromCidr(cidr: string, description?: string): void {
    this.allow("allowFromCidr", RedisPeer.ipv4(cidr), this.defaultPortKinds, description);
  }

  /** Opens the default port kinds to every IPv4 address. Only for those who ask by name. */
  public allowFromAnyIpv4(description = "anywhere (allowFromAnyIpv4)"): void {
    this.allow("allowFromAnyIpv4", RedisPeer.anyIpv4(), this.defaultPortKinds, description);
  }

  /**
   * Lets the group's members reach each other on every port kind they talk
   * on: replication, sentinels watching the nodes and each other, and, when
   * they come, the cluster bus. Not the metrics port: each node's agent
   * scrapes its own exporter.
   */
  public allowInternally(description = "the Redis nodes themselves"): void {
    const kinds = Object.values(RedisPortKind).filter((kind) => kind !== RedisPortKind.METRICS);
    this.allow("allowInternally", RedisPeer.securityGroupId(this.securityGroupId), kinds, description);
  }

  // The shortcuts go through here rather than allowFrom, so that a bad
  // literal is reported under the name of the method the user called.
  private allow(prop: string, peer: RedisPeer, kinds: RedisPortKind[], description: string | undefined): void {
    peer.validate(this.scope, prop);
    checkNow(this.scope, (p) => {
      requireNonEmptyList(p, "ports", kinds);
      if (kinds.includes(RedisPortKind.METRICS) && this.ports.metrics === undefined) {
        p.add(`${prop}: the metrics port is open only on a group with monitoring.enabled (it runs no exporter otherwise)`);
      }
    });
    const sourceKey = peer.keyIn(this.scope);
    const key = sourceKey === this.selfSourceKey ? SELF_KEY : sourceKey;
    for (const kind of kinds) {
      const id = `ingress-${kind}-${key}`;
      if (this.rules.has(id)) continue;
      const port = this.portOf(kind);
      this.rules.set(
        id,
        new VpcSecurityGroupIngressRule(this.scope, id, {
          securityGroupId: this.securityGroupId,
          ipProtocol: "tcp",
          fromPort: port,
          toPort: port,
          description: `${kind} from ${description ?? peer.defaultDescription}`,
          ...peer.toRuleSource(),
        }),
      );
    }
  }
}
