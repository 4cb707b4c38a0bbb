import { IConstruct } from "constructs";
import { stableKeyOf } from "../private/stable-key";
import { checkNow, requireAwsId, requireCidr } from "../private/validation";

const ANY_IPV4 = "0.0.0.0/0";

/** The source fields of an ingress rule: exactly one is set. */
export interface RedisPeerRuleSource {
  /**
   * Members of this security group may connect.
   * @default - not a security group source
   */
  readonly referencedSecurityGroupId?: string;
  /**
   * Addresses in this IPv4 CIDR block may connect.
   * @default - not a CIDR source
   */
  readonly cidrIpv4?: string;
}

/**
 * Where connections to the Redis nodes may come from: a security group or
 * an IPv4 CIDR block, given as a literal or a token (also one from another
 * stack). Pass one to `RedisConnections.allowFrom`.
 */
export abstract class RedisPeer {
  /** Members of a security group, such as the application servers' group. */
  public static securityGroupId(securityGroupId: string): RedisPeer {
    return new SecurityGroupPeer(securityGroupId);
  }

  /** Addresses in an IPv4 CIDR block, such as "10.20.0.0/16" (its host bits must be zero). */
  public static ipv4(cidr: string): RedisPeer {
    return new Ipv4Peer(cidr, cidr);
  }

  /** Every IPv4 address. Only for those who ask by name. */
  public static anyIpv4(): RedisPeer {
    return new Ipv4Peer(ANY_IPV4, "anywhere");
  }

  /** What a rule's description names when its caller gives no description. */
  public abstract readonly defaultDescription: string;

  protected constructor() {}

  /**
   * Refuses a literal that cannot be this kind of source (a token is
   * Terraform's to check).
   * @param scope the construct the error names
   * @param prop the argument the error names, such as "allowFromCidr"
   * @throws RedisReplicationValidationError
   */
  public abstract validate(scope: IConstruct, prop: string): void;

  /**
   * The fragment of rule construct ids that names this source: the same for
   * the same source, whatever else is allowed and in whichever order.
   * @param scope where the rules live; a token is resolved from there
   */
  public abstract keyIn(scope: IConstruct): string;

  /** The source fields of an ingress rule from this peer. */
  public abstract toRuleSource(): RedisPeerRuleSource;
}

class SecurityGroupPeer extends RedisPeer {
  public readonly defaultDescription: string;

  constructor(private readonly securityGroupId: string) {
    super();
    this.defaultDescription = securityGroupId;
  }

  public validate(scope: IConstruct, prop: string): void {
    checkNow(scope, (p) => requireAwsId(p, prop, this.securityGroupId, "sg"));
  }

  public keyIn(scope: IConstruct): string {
    // A literal id already reads "sg-...", which no other key starts with.
    return stableKeyOf(scope, this.securityGroupId);
  }

  public toRuleSource(): RedisPeerRuleSource {
    return { referencedSecurityGroupId: this.securityGroupId };
  }
}

class Ipv4Peer extends RedisPeer {
  constructor(
    private readonly cidr: string,
    public readonly defaultDescription: string,
  ) {
    super();
  }

  public validate(scope: IConstruct, prop: string): void {
    checkNow(scope, (p) => requireCidr(p, prop, this.cidr));
  }

  public keyIn(scope: IConstruct): string {
    // ipv4("0.0.0.0/0") and anyIpv4() are one source, so one rule per port.
    if (this.cidr === ANY_IPV4) return "any-ipv4";
    // The prefix keeps a CIDR token apart from a security group token.
    return `cidr-${stableKeyOf(scope, this.cidr)}`;
  }

  public toRuleSource(): RedisPeerRuleSource {
    return { cidrIpv4: this.cidr };
  }
}
