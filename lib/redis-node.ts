import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { DataAwsEc2InstanceType } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { NetworkInterface } from "@cdktf/provider-aws/lib/network-interface";
import { Fn, Op, Token } from "cdktf";
import { Construct } from "constructs";
import { renderCloudConfig, USER_DATA_LIMIT_BYTES } from "./config/cloud-config";
import { RedisConfSettings } from "./config/redis-conf";
import { SentinelConfSettings } from "./config/sentinel-conf";
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
import { requireInteger, requireIpv4 } from "./validation";

/** Canonical's AWS account, owner of the official Ubuntu images. */
const CANONICAL_OWNER_ID = "099720109477";

/** Share of the instance memory given to maxmemory by default. */
const DEFAULT_MAXMEMORY_SHARE = 0.7;

/** Graviton: a1, and families with a "g" right after the generation (m7g, r6gd, t4g, c7gn, x2gd, im4gn, g5g). */
export function architectureOf(instanceType: string): "amd64" | "arm64" {
  if (Token.isUnresolved(instanceType)) return "amd64";
  return /^([a-z]+\d+g|a1$)/.test(instanceType.split(".")[0]) ? "arm64" : "amd64";
}

/** Looks up the newest Ubuntu 24.04 LTS image (its apt Redis is 7.0.x). */
export function lookupUbuntuAmi(scope: Construct, id: string, architecture: "amd64" | "arm64"): string {
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
  /** Fixed private address of the node. @default - assigned from the subnet */
  readonly privateIp?: string;
  /** @default - a Name tag only */
  readonly tags?: { [key: string]: string };
}

interface NodeRoleConfig {
  readonly redis?: (address: string) => RedisConfSettings;
  readonly redisRestartDelaySeconds?: number;
  readonly sentinel?: (address: string) => SentinelConfSettings;
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

  protected constructor(
    scope: Construct,
    id: string,
    props: RedisNodeBaseProps,
    configure: (node: Construct) => NodeRoleConfig,
  ) {
    super(scope, id);
    const role = configure(this);
    requireIpv4(this, "privateIp", props.privateIp);
    requireInteger(this, "rootVolumeSizeGiB", props.rootVolumeSizeGiB, 8, 16384);
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

    this.userData = renderCloudConfig({
      redis: role.redis?.(eni.privateIp),
      sentinel: role.sentinel?.(eni.privateIp),
      secretStore: props.password.store,
      secretId: props.password.secretId,
      minRedisMajor: MIN_REDIS_MAJOR,
      redisRestartDelaySeconds: role.redisRestartDelaySeconds,
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

function dataNodeRole(scope: Construct, props: RedisDataNodeProps, master?: { address: string; port?: number }): NodeRoleConfig {
  const redis = props.redis ?? {};
  validateRedisServerOptions(scope, redis);
  requireInteger(scope, "replicaPriority", props.replicaPriority, 0, MAX_REPLICA_PRIORITY);
  requireInteger(scope, "crashRestartDelaySeconds", props.crashRestartDelaySeconds, 0, 3600);
  if (props.sentinel) {
    validateSentinelOptions(scope, props.sentinel);
    validatePorts(scope, redis.port, props.sentinel.port);
  }
  requireIpv4(scope, "masterAddress", master?.address);
  const redisPort = redis.port ?? DEFAULT_REDIS_PORT;
  const masterPort = master?.port ?? redisPort;
  const maxMemory =
    redis.maxMemory ?? defaultMaxMemory(scope, "instance-type", props.instanceType ?? DEFAULT_INSTANCE_TYPE);
  return {
    redisRestartDelaySeconds:
      props.crashRestartDelaySeconds ?? (props.sentinel ? restartDelayFor(props.sentinel.downAfterMilliseconds) : undefined),
    redis: (address) =>
      resolveRedisConf(redis, {
        nodeAddress: address,
        masterAddress: master?.address,
        masterPort: master ? masterPort : undefined,
        replicaPriority: props.replicaPriority,
        maxMemory,
      }),
    sentinel: props.sentinel
      ? (address) =>
          resolveSentinelConf(props.sentinel!, {
            nodeAddress: address,
            masterAddress: master?.address ?? address,
            masterPort,
            defaultQuorum: props.defaultQuorum ?? 2,
          })
      : undefined,
  };
}

/** The node that is master when the group is created. */
export class RedisMasterNode extends RedisNodeBase {
  constructor(scope: Construct, id: string, props: RedisMasterNodeProps) {
    super(scope, id, props, (node) => dataNodeRole(node, props));
  }
}

/** A node that starts as a replica of the master (`replicaof`). */
export class RedisReplicaNode extends RedisNodeBase {
  constructor(scope: Construct, id: string, props: RedisReplicaNodeProps) {
    super(scope, id, props, (node) => dataNodeRole(node, props, { address: props.masterAddress, port: props.masterPort }));
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
    super(scope, id, props, (node) => {
      const sentinel = props.sentinel ?? {};
      validateSentinelOptions(node, sentinel);
      requireIpv4(node, "masterAddress", props.masterAddress);
      return {
        sentinel: (address) =>
          resolveSentinelConf(sentinel, {
            nodeAddress: address,
            masterAddress: props.masterAddress,
            masterPort: props.masterPort ?? DEFAULT_REDIS_PORT,
            defaultQuorum: props.defaultQuorum ?? 2,
          }),
      };
    });
  }
}
