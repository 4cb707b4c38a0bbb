import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { DataAwsEc2InstanceType } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { NetworkInterface } from "@cdktf/provider-aws/lib/network-interface";
import { Fn, Op, Token } from "cdktf";
import { Construct } from "constructs";
import { renderCloudConfig, USER_DATA_LIMIT_BYTES } from "./config/cloud-config";
import { DEFAULT_INSTANCE_TYPE, DEFAULT_REDIS_PORT, DEFAULT_ROOT_VOLUME_GIB, MIN_REDIS_MAJOR } from "./defaults";
import { RedisReplicationValidationError } from "./errors";
import { RedisPasswordBinding } from "./redis-password";
import {
  DEFAULT_DOWN_AFTER_MS,
  MAX_REPLICA_PRIORITY,
  RedisServerOptions,
  resolveRedisConf,
  resolveSentinelConf,
  SentinelConfigOptions,
  validatePorts,
  validateRedisServerOptions,
  validateSentinelOptions,
} from "./redis-options";
import { requireAwsId, requireInstanceType, requireInteger, requireIpv4 } from "./validation";

/** Canonical's AWS account, owner of the official Ubuntu images. */
const CANONICAL_OWNER_ID = "099720109477";

/** Share of the instance memory given to maxmemory by default. */
const DEFAULT_MAXMEMORY_SHARE = 0.7;

/** CPU architecture of an instance type, as Ubuntu names it in image names. */
export enum CpuArchitecture {
  AMD64 = "amd64",
  ARM64 = "arm64",
}

/** Graviton: a1, and families with a "g" right after the generation (m7g, r6gd, t4g, c7gn, x2gd, im4gn, g5g). */
export function architectureOf(instanceType: string): CpuArchitecture {
  if (Token.isUnresolved(instanceType)) return CpuArchitecture.AMD64;
  return /^([a-z]+\d+g|a1$)/.test(instanceType.split(".")[0]) ? CpuArchitecture.ARM64 : CpuArchitecture.AMD64;
}

/** Looks up the newest Ubuntu 24.04 LTS image (its apt Redis is 7.0.x). */
export function lookupUbuntuAmi(scope: Construct, id: string, architecture: CpuArchitecture): string {
  return new DataAwsAmi(scope, id, {
    owners: [CANONICAL_OWNER_ID],
    mostRecent: true,
    filter: [
      { name: "name", values: [`ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${architecture}-server-*`] },
      { name: "virtualization-type", values: ["hvm"] },
    ],
  }).id;
}

/** The default maxmemory for an instance type, as a Terraform expression. */
export function defaultMaxMemory(scope: Construct, id: string, instanceType: string): string {
  const type = new DataAwsEc2InstanceType(scope, id, { instanceType });
  return `${Token.asString(Fn.floor(Op.mul(type.memorySize, DEFAULT_MAXMEMORY_SHARE)))}mb`;
}

/** What every node takes: placement, machine, identity and the password. */
export interface RedisNodeBaseProps {
  /** Subnet of the node's network interface. */
  readonly subnetId: string;
  /** Security groups of the node, typically the RedisSecurityGroup's. */
  readonly securityGroupIds: string[];
  /** Instance profile that may read the password (see RedisNodeRole). */
  readonly instanceProfileName: string;
  /** Where the node reads the Redis password at boot. */
  readonly password: RedisPasswordBinding;
  /** @default "t3.medium" */
  readonly instanceType?: string;
  /**
   * AMI of an Ubuntu or Debian image whose apt repository has Redis >= 7
   * (Ubuntu 24.04, Debian 12). The boot fails loudly on an older Redis.
   * @default - the newest Ubuntu 24.04 LTS image for the instance architecture
   */
  readonly amiId?: string;
  /** Size of the encrypted gp3 root volume, which also holds the data. @default 20 */
  readonly rootVolumeSizeGiB?: number;
  /**
   * EC2 key pair for SSH. The security group opens no SSH port; prefer SSM
   * Session Manager, which the instance role allows.
   * @default - no key pair
   */
  readonly keyName?: string;
  /** Fixed private address of the node. @default - assigned from the subnet */
  readonly privateIp?: string;
  /** @default - a Name tag only */
  readonly tags?: { [key: string]: string };
}

/**
 * What a node runs, as the node classes tell their base. Exported for
 * authors of further node classes; users set the props of the node classes.
 */
export interface RedisNodeServices {
  /** Run redis-server with these settings. @default - no redis-server */
  readonly redis?: RedisServerOptions;
  /** Run Sentinel with these settings. @default - no Sentinel */
  readonly sentinel?: SentinelConfigOptions;
  /** Master at deploy time (`replicaof`, `sentinel monitor`). @default - this node */
  readonly masterAddress?: string;
  /** @default - the redis port of this node, else 6379 */
  readonly masterPort?: number;
  /** `replica-priority`. @default 100 */
  readonly replicaPriority?: number;
  /** Quorum used when sentinel.quorum is not set. @default 2 */
  readonly defaultQuorum?: number;
  /** @default - see RedisDataNodeProps.crashRestartDelaySeconds */
  readonly crashRestartDelaySeconds?: number;
}

/**
 * An EC2 instance behind its own network interface. The interface gives the
 * node an address known before the instance exists, so every node's user
 * data can name the master without a dependency cycle, and a replaced
 * instance keeps its address.
 */
export abstract class RedisNodeBase extends Construct {
  /** The node's private IPv4 address. @attribute */
  public readonly privateIp: string;
  /** @attribute */
  public readonly instanceId: string;
  /** @attribute */
  public readonly networkInterfaceId: string;
  /** The #cloud-config user data (a Terraform template). */
  public readonly userData: string;
  public readonly instance: Instance;

  protected constructor(scope: Construct, id: string, props: RedisNodeBaseProps, services: RedisNodeServices) {
    super(scope, id);
    requireIpv4(this, "privateIp", props.privateIp);
    requireInteger(this, "rootVolumeSizeGiB", props.rootVolumeSizeGiB, 8, 16384);
    requireInstanceType(this, "instanceType", props.instanceType);
    requireAwsId(this, "subnetId", props.subnetId, "subnet");
    const { redis, sentinel } = services;
    if (!redis && !sentinel) throw new RedisReplicationValidationError(this, "a node must run redis-server, Sentinel or both");
    if (redis) {
      validateRedisServerOptions(this, redis);
      requireInteger(this, "replicaPriority", services.replicaPriority, 0, MAX_REPLICA_PRIORITY);
      requireInteger(this, "crashRestartDelaySeconds", services.crashRestartDelaySeconds, 0, 3600);
    }
    if (sentinel) {
      validateSentinelOptions(this, sentinel);
      if (redis) validatePorts(this, redis.port, sentinel.port);
    }
    requireIpv4(this, "masterAddress", services.masterAddress);
    const instanceType = props.instanceType ?? DEFAULT_INSTANCE_TYPE;
    const name = this.node.path.replace(/\//g, "-");
    const tags = { ...props.tags, Name: name };

    const eni = new NetworkInterface(this, "eni", {
      subnetId: props.subnetId,
      securityGroups: props.securityGroupIds,
      privateIps: props.privateIp ? [props.privateIp] : undefined,
      description: `Redis node ${this.node.path}`,
      tags,
    });
    this.privateIp = eni.privateIp;
    this.networkInterfaceId = eni.id;

    const masterPort = services.masterPort ?? redis?.port ?? DEFAULT_REDIS_PORT;
    this.userData = renderCloudConfig({
      redis: redis
        ? resolveRedisConf(redis, {
            nodeAddress: eni.privateIp,
            masterAddress: services.masterAddress,
            masterPort: services.masterAddress !== undefined ? masterPort : undefined,
            replicaPriority: services.replicaPriority,
            maxMemory: redis.maxMemory ?? defaultMaxMemory(this, "instance-type", instanceType),
          })
        : undefined,
      sentinel: sentinel
        ? resolveSentinelConf(sentinel, {
            nodeAddress: eni.privateIp,
            masterAddress: services.masterAddress ?? eni.privateIp,
            masterPort,
            defaultQuorum: services.defaultQuorum ?? 2,
          })
        : undefined,
      secretStore: props.password.store,
      secretId: props.password.secretId,
      minRedisMajor: MIN_REDIS_MAJOR,
      redisRestartDelaySeconds:
        services.crashRestartDelaySeconds ?? (redis && sentinel ? restartDelayFor(sentinel.downAfterMilliseconds) : undefined),
    });
    // Terraform references are longer than the addresses they become, so
    // this bounds the real size from above.
    const bytes = Buffer.byteLength(this.userData, "utf8");
    if (bytes > USER_DATA_LIMIT_BYTES) {
      throw new RedisReplicationValidationError(this, `user data is ${bytes} bytes, over the EC2 limit of ${USER_DATA_LIMIT_BYTES}`);
    }

    this.instance = new Instance(this, "instance", {
      ami: props.amiId ?? lookupUbuntuAmi(this, "ami", architectureOf(instanceType)),
      instanceType,
      iamInstanceProfile: props.instanceProfileName,
      keyName: props.keyName,
      primaryNetworkInterface: { networkInterfaceId: eni.id },
      metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
      rootBlockDevice: {
        volumeType: "gp3",
        volumeSize: props.rootVolumeSizeGiB ?? DEFAULT_ROOT_VOLUME_GIB,
        encrypted: true,
        deleteOnTermination: true,
      },
      userData: this.userData,
      userDataReplaceOnChange: false,
      // After a failover the master is another node than the one Terraform
      // created as master; Redis and Sentinel own their config files from the
      // first boot on. A changed template or a newer AMI must not stop,
      // restart or replace a running node: replace nodes deliberately
      // (terraform apply -replace=...), one at a time.
      lifecycle: { ignoreChanges: ["user_data", "ami"] },
      tags,
      volumeTags: tags,
    });
    this.instanceId = this.instance.id;
  }
}

/** Options of a node that runs redis-server. */
export interface RedisDataNodeProps extends RedisNodeBaseProps {
  /** redis.conf settings. @default - the defaults of RedisServerOptions */
  readonly redis?: RedisServerOptions;
  /** Run Sentinel on this node too. @default - no Sentinel */
  readonly sentinel?: SentinelConfigOptions;
  /**
   * `replica-priority`: Sentinel promotes the replica with the lowest
   * non-zero value; 0 means never promote. It applies to a master too,
   * once a failover has made it a replica.
   * @default 100
   */
  readonly replicaPriority?: number;
  /** Quorum used when sentinel.quorum is not set. @default 2 */
  readonly defaultQuorum?: number;
  /**
   * Seconds systemd waits before it restarts a crashed redis-server. Sentinel
   * should fail a crashed master over before it returns with an older
   * snapshot (see README, "Persistence and restarts").
   * @default - down-after-milliseconds + 10 s when a sentinel runs on the
   * node, else the packaged unit's setting (restart at once)
   */
  readonly crashRestartDelaySeconds?: number;
}

/** Restart delay that lets Sentinel promote a replica first. */
export function restartDelayFor(downAfterMilliseconds: number | undefined): number {
  const downAfter = downAfterMilliseconds ?? DEFAULT_DOWN_AFTER_MS;
  return Token.isUnresolved(downAfter) ? 60 : Math.ceil(downAfter / 1000) + 10;
}

export interface RedisMasterNodeProps extends RedisDataNodeProps {}

export interface RedisReplicaNodeProps extends RedisDataNodeProps {
  /** Address of the master at deploy time (`replicaof`). */
  readonly masterAddress: string;
  /** @default - this node's redis port */
  readonly masterPort?: number;
}

function dataNodeServices(props: RedisDataNodeProps): RedisNodeServices {
  return {
    redis: props.redis ?? {},
    sentinel: props.sentinel,
    replicaPriority: props.replicaPriority,
    defaultQuorum: props.defaultQuorum,
    crashRestartDelaySeconds: props.crashRestartDelaySeconds,
  };
}

/** The node that is master when the group is created. */
export class RedisMasterNode extends RedisNodeBase {
  constructor(scope: Construct, id: string, props: RedisMasterNodeProps) {
    super(scope, id, props, dataNodeServices(props));
  }
}

/** A node that starts as a replica of the master (`replicaof`). */
export class RedisReplicaNode extends RedisNodeBase {
  constructor(scope: Construct, id: string, props: RedisReplicaNodeProps) {
    super(scope, id, props, { ...dataNodeServices(props), masterAddress: props.masterAddress, masterPort: props.masterPort });
  }
}

export interface RedisSentinelNodeProps extends RedisNodeBaseProps {
  /** Address of the master at deploy time. */
  readonly masterAddress: string;
  /** @default 6379 */
  readonly masterPort?: number;
  /** @default - the defaults of SentinelConfigOptions */
  readonly sentinel?: SentinelConfigOptions;
  /** Quorum used when sentinel.quorum is not set. @default 2 */
  readonly defaultQuorum?: number;
}

/** A node that runs only Sentinel, for sentinels apart from the data. */
export class RedisSentinelNode extends RedisNodeBase {
  constructor(scope: Construct, id: string, props: RedisSentinelNodeProps) {
    super(scope, id, props, {
      sentinel: props.sentinel ?? {},
      masterAddress: props.masterAddress,
      masterPort: props.masterPort,
      defaultQuorum: props.defaultQuorum,
    });
  }
}
