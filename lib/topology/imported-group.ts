import { Construct } from "constructs";
import { SecretStore } from "../auth/secret-store";
import { RedisConnections } from "../network/connections";
import { DEFAULT_MASTER_NAME } from "../options";
import { DEFAULT_REDIS_PORT, DEFAULT_SENTINEL_PORT } from "../private/defaults";
import { RedisReplicationGroupAttributes, RedisReplicationGroupBase, storeOfArn } from "./replication-group-base";

/** A group of another stack or app: its ingress rules and grants live in this scope. */
export class ImportedRedisReplicationGroup extends RedisReplicationGroupBase {
  public readonly masterName: string;
  public readonly sentinelAddresses: string[];
  public readonly redisPort: number;
  public readonly sentinelPort: number;
  public readonly securityGroupId: string;
  public readonly passwordSecretArn: string;
  public readonly caCertificatePem?: string;
  public readonly connections: RedisConnections;
  protected readonly passwordSecretStore?: SecretStore;
  protected readonly passwordKmsKeyArn?: string;
  protected readonly sentinelClientPasswordSecretArn?: string;

  constructor(scope: Construct, id: string, attrs: RedisReplicationGroupAttributes) {
    super(scope, id);
    this.masterName = attrs.masterName ?? DEFAULT_MASTER_NAME;
    this.sentinelAddresses = attrs.sentinelAddresses ?? [];
    this.redisPort = attrs.redisPort ?? DEFAULT_REDIS_PORT;
    this.sentinelPort = attrs.sentinelPort ?? DEFAULT_SENTINEL_PORT;
    this.securityGroupId = attrs.securityGroupId;
    this.passwordSecretArn = attrs.passwordSecretArn;
    this.caCertificatePem = attrs.caCertificatePem;
    this.passwordSecretStore = attrs.passwordSecretStore ?? storeOfArn(attrs.passwordSecretArn);
    this.passwordKmsKeyArn = attrs.passwordKmsKeyArn;
    this.sentinelClientPasswordSecretArn = attrs.sentinelClientPasswordSecretArn;
    this.connections = new RedisConnections(this, {
      securityGroupId: attrs.securityGroupId,
      ports: { redis: this.redisPort, sentinel: this.sentinelPort, metrics: attrs.metricsPort },
    });
  }
}
