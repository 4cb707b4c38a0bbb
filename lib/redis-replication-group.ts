import { Annotations, Fn, TerraformOutput, Token } from "cdktf";
import { Construct } from "constructs";
import { DEFAULT_INSTANCE_TYPE, DEFAULT_REDIS_PORT, DEFAULT_SENTINEL_INSTANCE_TYPE } from "./defaults";
import { RedisReplicationValidationError } from "./errors";
import {
  architectureOf,
  defaultMaxMemory,
  lookupUbuntuAmi,
  RedisMasterNode,
  RedisNodeBaseProps,
  RedisReplicaNode,
  RedisSentinelNode,
  restartDelayFor,
} from "./redis-node";
import { RedisNodeRole } from "./redis-node-role";
import {
  DEFAULT_MASTER_NAME,
  MAX_REPLICA_PRIORITY,
  RedisServerOptions,
  SentinelConfigOptions,
  validatePorts,
  validateRedisServerOptions,
  validateSentinelOptions,
} from "./redis-options";
import { RedisPassword } from "./redis-password";
import { RedisSecurityGroup } from "./redis-security-group";
import { requireAwsId, requireCidr, requireEach, requireInstanceType, requireInteger, requireNonEmptyList } from "./validation";

/** Sentinel in a replication group. */
export interface SentinelOptions extends SentinelConfigOptions {
  /**
   * Run Sentinel. Without it nothing fails over automatically.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Number of dedicated sentinel-only nodes. 0 runs a sentinel on every data
   * node (1 master + 2 replicas = 3 sentinels).
   * @default 0
   */
  readonly dedicatedNodeCount?: number;
  /** Instance type of dedicated sentinel nodes. @default "t3.micro" */
  readonly dedicatedInstanceType?: string;
  /**
   * Accept fewer than 3 sentinels. With 1 or 2, losing one sentinel (or its
   * node) leaves no majority to authorize a failover: not highly available.
   * @default false
   */
  readonly allowFewerThanThreeSentinels?: boolean;
}

export interface RedisReplicationGroupProps {
  /** VPC of the nodes. */
  readonly vpcId: string;
  /**
   * Subnets of the nodes, used round-robin: the master in the first, replica
   * i in subnet (i + 1) mod n. Name subnets in different availability zones.
   * A list token (from a data source) is accepted.
   */
  readonly subnetIds: string[];
  /** Replicas besides the master. @default 2 */
  readonly replicaCount?: number;
  /** Instance type of the data nodes. @default "t3.medium" */
  readonly instanceType?: string;
  /** @default - the newest Ubuntu 24.04 LTS image (Redis 7.0 from apt) */
  readonly amiId?: string;
  /** EC2 key pair of every node (no SSH port is opened). @default - none: use SSM Session Manager */
  readonly keyName?: string;
  /** Encrypted gp3 root volume size of data nodes. @default 20 */
  readonly rootVolumeSizeGiB?: number;
  /**
   * The Redis password (clients, replication and Sentinel).
   * @default RedisPassword.generated(): a random 32-character password in
   * an SSM SecureString parameter
   */
  readonly password?: RedisPassword;
  /** Security groups whose members may reach Redis and Sentinel. @default - none */
  readonly allowedSecurityGroupIds?: string[];
  /** IPv4 CIDR blocks that may reach Redis and Sentinel. @default - none */
  readonly allowedCidrs?: string[];
  /** @default false (only TCP 80/443 and the group's own Redis ports) */
  readonly allowAllOutbound?: boolean;
  /** redis.conf settings of every data node. */
  readonly redis?: RedisServerOptions;
  /** Sentinel settings. @default - a sentinel on every data node, quorum a majority */
  readonly sentinel?: SentinelOptions;
  /**
   * `replica-priority` of each data node, the initial master first (it is
   * used once a failover makes it a replica). 0 = never promote.
   * @default - 100 for every node
   */
  readonly replicaPriorities?: number[];
  /** Add TerraformOutputs for the addresses, master name and group. @default true */
  readonly outputs?: boolean;
  /** @default - no tags besides Name */
  readonly tags?: { [key: string]: string };
}

const MAX_REPLICAS = 15;

/**
 * One master, `replicaCount` replicas and Redis Sentinel for automatic
 * failover, on EC2, with the security group, instance role and password.
 */
export class RedisReplicationGroup extends Construct {
  /** Address of the node created as master. After a failover, ask Sentinel. @attribute */
  public readonly masterAddress: string;
  /** @attribute */
  public readonly replicaAddresses: string[];
  /** Addresses of the sentinels (empty when Sentinel is disabled). @attribute */
  public readonly sentinelAddresses: string[];
  /** The name clients give Sentinel. @attribute */
  public readonly masterName: string;
  /** @attribute */
  public readonly securityGroupId: string;
  /** ARN of the parameter or secret that holds the password. @attribute */
  public readonly passwordSecretArn: string;
  public readonly redisPort: number;
  public readonly sentinelPort: number;
  public readonly securityGroup: RedisSecurityGroup;
  public readonly nodeRole: RedisNodeRole;
  public readonly master: RedisMasterNode;
  public readonly replicas: RedisReplicaNode[];
  public readonly sentinelNodes: RedisSentinelNode[];

  constructor(scope: Construct, id: string, props: RedisReplicationGroupProps) {
    super(scope, id);
    const replicaCount = props.replicaCount ?? 2;
    if (Token.isUnresolved(replicaCount)) {
      throw new RedisReplicationValidationError(this, "replicaCount must be a literal number, not a token");
    }
    requireInteger(this, "replicaCount", replicaCount, 0, MAX_REPLICAS);
    requireAwsId(this, "vpcId", props.vpcId, "vpc");
    requireNonEmptyList(this, "subnetIds", props.subnetIds);
    requireEach(this, "subnetIds", props.subnetIds, (scope, prop, id) => requireAwsId(scope, prop, id, "subnet"));
    requireEach(this, "allowedSecurityGroupIds", props.allowedSecurityGroupIds, (scope, prop, id) => requireAwsId(scope, prop, id, "sg"));
    requireInstanceType(this, "instanceType", props.instanceType);
    requireInstanceType(this, "sentinel.dedicatedInstanceType", props.sentinel?.dedicatedInstanceType);
    const redis = props.redis ?? {};
    const sentinel = props.sentinel ?? {};
    validateRedisServerOptions(this, redis);
    validateSentinelOptions(this, sentinel);
    validatePorts(this, redis.port, sentinel.port);
    requireEach(this, "allowedCidrs", props.allowedCidrs, requireCidr);
    if (redis.minReplicasToWrite !== undefined && !Token.isUnresolved(redis.minReplicasToWrite) && redis.minReplicasToWrite > replicaCount) {
      throw new RedisReplicationValidationError(
        this,
        `redis.minReplicasToWrite must be at most replicaCount (${replicaCount}), got ${redis.minReplicasToWrite}: the master would refuse every write`,
      );
    }
    const priorities = props.replicaPriorities;
    if (priorities && !Token.isUnresolved(priorities)) {
      if (priorities.length !== replicaCount + 1) {
        throw new RedisReplicationValidationError(
          this,
          `replicaPriorities must have one entry per data node (1 master + ${replicaCount} replicas = ${replicaCount + 1}), got ${priorities.length}`,
        );
      }
      requireEach(this, "replicaPriorities", priorities, (scope, prop, p) => requireInteger(scope, prop, p, 0, MAX_REPLICA_PRIORITY));
    }
    const sentinelEnabled = sentinel.enabled ?? true;
    const dedicated = sentinel.dedicatedNodeCount ?? 0;
    requireInteger(this, "sentinel.dedicatedNodeCount", dedicated, 0, 15);
    const sentinelCount = !sentinelEnabled ? 0 : dedicated > 0 ? dedicated : replicaCount + 1;
    const quorum = sentinel.quorum ?? Math.floor(sentinelCount / 2) + 1;
    if (sentinelEnabled) this.validateSentinelCount(sentinelCount, quorum, sentinel, dedicated);

    this.redisPort = redis.port ?? DEFAULT_REDIS_PORT;
    this.securityGroup = new RedisSecurityGroup(this, "security-group", {
      vpcId: props.vpcId,
      redisPort: redis.port,
      sentinelPort: sentinel.port,
      allowAllOutbound: props.allowAllOutbound,
      tags: props.tags,
    });
    this.sentinelPort = this.securityGroup.sentinelPort;
    this.securityGroupId = this.securityGroup.securityGroupId;
    for (const sg of props.allowedSecurityGroupIds ?? []) this.securityGroup.allowFromSecurityGroup(sg);
    for (const cidr of props.allowedCidrs ?? []) this.securityGroup.allowFromCidr(cidr);

    const password = (props.password ?? RedisPassword.generated()).bind(this);
    this.passwordSecretArn = password.secretArn;
    this.nodeRole = new RedisNodeRole(this, "node-role", { password, tags: props.tags });

    const instanceType = props.instanceType ?? DEFAULT_INSTANCE_TYPE;
    const common: Omit<RedisNodeBaseProps, "subnetId"> = {
      securityGroupIds: [this.securityGroupId],
      instanceProfileName: this.nodeRole.instanceProfileName,
      password,
      instanceType,
      amiId: props.amiId ?? lookupUbuntuAmi(this, "ami", architectureOf(instanceType)),
      rootVolumeSizeGiB: props.rootVolumeSizeGiB,
      keyName: props.keyName,
      tags: props.tags,
    };
    const dataRedis: RedisServerOptions = {
      ...redis,
      maxMemory: redis.maxMemory ?? defaultMaxMemory(this, "instance-type", instanceType),
      minReplicasToWrite: redis.minReplicasToWrite ?? (replicaCount > 0 ? 1 : 0),
    };
    const sentinelOnDataNodes = sentinelEnabled && dedicated === 0 ? sentinel : undefined;
    // With dedicated sentinels the data nodes run none, but still need the delay.
    const crashRestartDelaySeconds = sentinelEnabled ? restartDelayFor(sentinel.downAfterMilliseconds) : undefined;
    const subnetAt = (i: number) =>
      Token.isUnresolved(props.subnetIds) ? Fn.element(props.subnetIds, i) : props.subnetIds[i % props.subnetIds.length];

    this.master = new RedisMasterNode(this, "master", {
      ...common,
      subnetId: subnetAt(0),
      redis: dataRedis,
      sentinel: sentinelOnDataNodes,
      replicaPriority: priorities?.[0],
      defaultQuorum: quorum,
      crashRestartDelaySeconds,
    });
    this.masterAddress = this.master.privateIp;
    this.replicas = [];
    for (let i = 0; i < replicaCount; i++) {
      this.replicas.push(
        new RedisReplicaNode(this, `replica-${i + 1}`, {
          ...common,
          subnetId: subnetAt(i + 1),
          redis: dataRedis,
          sentinel: sentinelOnDataNodes,
          masterAddress: this.masterAddress,
          replicaPriority: priorities?.[i + 1],
          defaultQuorum: quorum,
          crashRestartDelaySeconds,
        }),
      );
    }
    this.sentinelNodes = [];
    if (sentinelEnabled && dedicated > 0) {
      const sentinelType = sentinel.dedicatedInstanceType ?? DEFAULT_SENTINEL_INSTANCE_TYPE;
      const sentinelAmi = props.amiId ?? lookupUbuntuAmi(this, "sentinel-ami", architectureOf(sentinelType));
      for (let i = 0; i < dedicated; i++) {
        this.sentinelNodes.push(
          new RedisSentinelNode(this, `sentinel-${i + 1}`, {
            ...common,
            instanceType: sentinelType,
            amiId: sentinelAmi,
            subnetId: subnetAt(i),
            masterAddress: this.masterAddress,
            masterPort: this.redisPort,
            sentinel,
            defaultQuorum: quorum,
          }),
        );
      }
    }
    this.replicaAddresses = this.replicas.map((r) => r.privateIp);
    this.sentinelAddresses = !sentinelEnabled
      ? []
      : dedicated > 0
        ? this.sentinelNodes.map((s) => s.privateIp)
        : [this.masterAddress, ...this.replicaAddresses];
    this.masterName = sentinel.masterName ?? DEFAULT_MASTER_NAME;

    if (props.outputs ?? true) this.addOutputs(sentinelEnabled);
  }

  /** Lets members of a security group reach Redis and Sentinel. */
  public allowFromSecurityGroup(securityGroupId: string, description?: string): void {
    this.securityGroup.allowFromSecurityGroup(securityGroupId, description);
  }

  /** Lets an IPv4 CIDR block reach Redis and Sentinel. */
  public allowFromCidr(cidr: string, description?: string): void {
    this.securityGroup.allowFromCidr(cidr, description);
  }

  private validateSentinelCount(count: number, quorum: number, sentinel: SentinelOptions, dedicated: number): void {
    const where = dedicated > 0 ? "sentinel.dedicatedNodeCount" : "sentinels (one per data node: 1 + replicaCount)";
    if (count < 3 && !sentinel.allowFewerThanThreeSentinels) {
      throw new RedisReplicationValidationError(
        this,
        `${where} gives ${count} sentinel(s); at least 3 are needed for a failover to survive the loss of a node. ` +
          "Add replicas or dedicated sentinels, or set sentinel.allowFewerThanThreeSentinels to accept a setup that is not highly available",
      );
    }
    if (!Token.isUnresolved(quorum) && quorum > count) {
      throw new RedisReplicationValidationError(
        this,
        `sentinel.quorum must be at most the number of sentinels (${count}), got ${quorum}: no failover could ever start`,
      );
    }
    if (count % 2 === 0) {
      Annotations.of(this).addWarning(
        `${count} sentinels: an even count tolerates no more failures than ${count - 1}; prefer an odd number`,
      );
    }
  }

  private addOutputs(sentinelEnabled: boolean): void {
    new TerraformOutput(this, "master-address", {
      value: this.masterAddress,
      description: "Private address of the node created as master (after a failover, ask Sentinel)",
    });
    new TerraformOutput(this, "replica-addresses", { value: this.replicaAddresses, description: "Private addresses of the replicas" });
    if (sentinelEnabled) {
      new TerraformOutput(this, "sentinel-addresses", { value: this.sentinelAddresses, description: "Addresses of the sentinels" });
      new TerraformOutput(this, "master-name", { value: this.masterName, description: "Master name to give Sentinel" });
    }
    new TerraformOutput(this, "security-group-id", { value: this.securityGroupId, description: "Security group of the Redis nodes" });
    new TerraformOutput(this, "password-secret-arn", {
      value: this.passwordSecretArn,
      description: "ARN of the parameter or secret holding the Redis password (the value is never an output)",
    });
  }
}
