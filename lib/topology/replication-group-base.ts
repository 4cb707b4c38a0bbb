import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct, IConstruct } from "constructs";
import { SecretStore, secretReadStatements } from "../auth/secret-store";
import { policyDocument, RedisPolicyStatement } from "../iam/policy-statement";
import { RedisAllowFromOptions, RedisConnections } from "../network/connections";
import { RedisPeer } from "../network/peer";
import { stableKeyOf } from "../private/stable-key";

/**
 * A replication group, created here or imported by its attributes: enough
 * to let clients in and to grant them the password, without owning the nodes.
 */
export interface IRedisReplicationGroup extends IConstruct {
  /** The name clients give Sentinel. @attribute */
  readonly masterName: string;
  /** Addresses of the sentinels (empty when unknown or Sentinel is off). @attribute */
  readonly sentinelAddresses: string[];
  /** @attribute */
  readonly redisPort: number;
  /** @attribute */
  readonly sentinelPort: number;
  /** Security group of the nodes. @attribute */
  readonly securityGroupId: string;
  /** ARN of the parameter or secret that holds the password. @attribute */
  readonly passwordSecretArn: string;
  /** Ingress rules of the group's security group, addressed by their source. */
  readonly connections: RedisConnections;
  /** Lets a peer reach the nodes (Redis and Sentinel unless `options.ports` says otherwise). */
  allowFrom(peer: RedisPeer, options?: RedisAllowFromOptions): void;
  /** Lets members of a security group reach Redis and Sentinel. */
  allowFromSecurityGroup(securityGroupId: string, description?: string): void;
  /** Lets an IPv4 CIDR block reach Redis and Sentinel. */
  allowFromCidr(cidr: string, description?: string): void;
  /** Statements that allow reading the password (and decrypting it with its customer managed key). */
  passwordReadStatements(): RedisPolicyStatement[];
  /** Lets an IAM role (by name) read the password: an inline policy on that role. */
  grantReadPassword(roleName: string): void;
}

/** What another stack or app needs to know of a group to use it. */
export interface RedisReplicationGroupAttributes {
  /** Security group of the nodes. */
  readonly securityGroupId: string;
  /** ARN of the SSM parameter or Secrets Manager secret that holds the password. */
  readonly passwordSecretArn: string;
  /**
   * Store of the password.
   * @default - read from a literal ARN; for a token both read actions, on that one ARN
   */
  readonly passwordSecretStore?: SecretStore;
  /** Customer managed KMS key of the password. @default - none (an AWS managed key) */
  readonly passwordKmsKeyArn?: string;
  /** @default "main" */
  readonly masterName?: string;
  /** @default - none */
  readonly sentinelAddresses?: string[];
  /** @default 6379 */
  readonly redisPort?: number;
  /** @default 26379 */
  readonly sentinelPort?: number;
}

/** Store named by a literal ARN's service, else undefined. */
export function storeOfArn(arn: string): SecretStore | undefined {
  const service = /^arn:aws[a-z-]*:([a-z]+):/.exec(arn)?.[1];
  return Object.values(SecretStore).find((s) => s === service);
}

/** What a created and an imported group share: client access and grants. */
export abstract class RedisReplicationGroupBase extends Construct implements IRedisReplicationGroup {
  public abstract readonly masterName: string;
  public abstract readonly sentinelAddresses: string[];
  public abstract readonly redisPort: number;
  public abstract readonly sentinelPort: number;
  public abstract readonly securityGroupId: string;
  public abstract readonly passwordSecretArn: string;
  public abstract readonly connections: RedisConnections;
  protected abstract readonly passwordSecretStore?: SecretStore;
  protected abstract readonly passwordKmsKeyArn?: string;
  private readonly grants = new Set<string>();

  public allowFrom(peer: RedisPeer, options?: RedisAllowFromOptions): void {
    this.connections.allowFrom(peer, options);
  }

  public allowFromSecurityGroup(securityGroupId: string, description?: string): void {
    this.connections.allowFromSecurityGroup(securityGroupId, description);
  }

  public allowFromCidr(cidr: string, description?: string): void {
    this.connections.allowFromCidr(cidr, description);
  }

  public passwordReadStatements(): RedisPolicyStatement[] {
    return secretReadStatements(this.passwordSecretArn, this.passwordSecretStore, this.passwordKmsKeyArn);
  }

  public grantReadPassword(roleName: string): void {
    // Named by the role, so a second grant to the same role is a no-op and
    // removing one grant leaves the others' Terraform addresses alone.
    const id = `grant-read-password-${stableKeyOf(this, roleName)}`;
    if (this.grants.has(id)) return;
    this.grants.add(id);
    new IamRolePolicy(this, id, { role: roleName, policy: policyDocument(this.passwordReadStatements()) });
  }
}
