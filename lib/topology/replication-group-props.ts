import { RedisPassword } from "../auth/password";
import { RedisTlsOptions } from "../auth/tls-options";
import { RedisUserOptions } from "../auth/user";
import { RedisEgressOptions } from "../network/security-group";
import { RedisMonitoringOptions } from "../monitoring/monitoring-options";
import { RedisDataVolumeOptions } from "../node/data-volume-options";
import { RedisServerOptions, SentinelConfigOptions } from "../options";

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
   * AMI of dedicated sentinel nodes.
   * @default - the group's `amiId` when the sentinels' instance type has the
   * data nodes' CPU architecture, else the newest Debian 12 image for
   * the sentinels' architecture
   */
  readonly dedicatedAmiId?: string;
  /**
   * Accept fewer than 3 sentinels. With 1 or 2, losing one sentinel (or its
   * node) leaves no majority to authorize a failover: not highly available.
   * @default false
   */
  readonly allowFewerThanThreeSentinels?: boolean;
}

/** Sentinel's failover events, published to Amazon EventBridge. */
export interface RedisEventsOptions {
  /**
   * Publish `+odown`, `-odown`, `+switch-master` and `+failover-end` from
   * every sentinel to EventBridge, signed with the node's role. On by
   * default: a node's boot files are written once (user data changes are
   * ignored), so turning this on later means replacing every node; events
   * on a bus without a rule cost nothing and go nowhere.
   * @default true (when Sentinel runs)
   */
  readonly enabled?: boolean;
  /**
   * ARN of the event bus the events go to (another account's bus must
   * allow this account's PutEvents in its resource policy).
   * @default - the default event bus of the stack's region and account
   */
  readonly eventBusArn?: string;
  /**
   * An SNS topic to forward the group's events to: the library adds an
   * EventBridge rule matching them and a target. The topic's policy must
   * let events.amazonaws.com publish (see the README); the library does not
   * change your topic's policy.
   * @default - no rule: add your own rules on the bus
   */
  readonly snsTopicArn?: string;
}

/**
 * Writer and reader names in a Route 53 private hosted zone: records the
 * sentinels keep pointed at the master and at the healthy replicas.
 */
export interface RedisDnsOptions {
  /**
   * The zone's domain, such as "redis.internal": the names end in it.
   */
  readonly zoneName: string;
  /**
   * An existing private hosted zone of `zoneName` (its id, Z...), associated
   * with the group's VPC by you.
   * @default - a new private hosted zone named `zoneName`, associated with the group's VPC
   */
  readonly zoneId?: string;
  /**
   * The name that always points at the master (an A record), inside `zoneName`.
   * @default "writer.<group id>.<zoneName>" (the group's construct id, lowercase)
   */
  readonly writerName?: string;
  /**
   * The name that lists the healthy replicas (an A record with one address
   * each; the master's when none is healthy), inside `zoneName`.
   * @default "reader.<group id>.<zoneName>"
   */
  readonly readerName?: string;
  /**
   * The records' TTL: how long a resolver may keep answering with the old
   * master after a failover.
   * @default 5
   */
  readonly ttlSeconds?: number;
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
  /** @default - the newest official Debian 12 image of the instance type's architecture (Redis 7.0 from Debian's main archive, security-supported); see README, "Choosing an image" */
  readonly amiId?: string;
  /** EC2 key pair of every node (no SSH port is opened). @default - none: use SSM Session Manager */
  readonly keyName?: string;
  /**
   * Encrypted gp3 root volume size of every node (the system and the logs;
   * the data is on the data volume).
   * @default 20
   */
  readonly rootVolumeSizeGiB?: number;
  /**
   * The EBS volume of each data node, where Redis keeps its RDB and AOF
   * files: found at boot by its volume id, formatted (XFS) only when blank,
   * mounted at /var/lib/redis. It survives the replacement of its instance.
   * @default - an encrypted 20 GiB gp3 volume (3000 IOPS, 125 MiB/s) per
   * data node, with Terraform's prevent_destroy
   */
  readonly dataVolume?: RedisDataVolumeOptions;
  /**
   * The password of the default application user "app", when `users` is not
   * given. Replication, Sentinel, admin and monitor have users and
   * passwords of their own.
   * @default RedisPassword.generated(): a random 32-character password in
   * an SSM SecureString parameter
   */
  readonly password?: RedisPassword;
  /**
   * Application users (ACL): each with its keys, channels and commands, and
   * its own password. The default user is off.
   * @default - one user "app": every key and channel, every command but
   * @admin, @dangerous and @scripting, with the `password` prop's password
   */
  readonly users?: RedisUserOptions[];
  /**
   * Security groups whose members may reach Redis and Sentinel (the same as
   * `group.allowFromSecurityGroup` for each).
   * @default - none
   */
  readonly allowedSecurityGroupIds?: string[];
  /** IPv4 CIDR blocks that may reach Redis and Sentinel (as `group.allowFromCidr`). @default - none */
  readonly allowedCidrs?: string[];
  /** @default false (only what `egress` names and the group's own Redis ports) */
  readonly allowAllOutbound?: boolean;
  /**
   * Where the nodes' outbound connections may go: the AWS APIs on 443 (for
   * example only your VPC endpoints' security group) and the package
   * mirrors on 80/443 ([] with an image that has Redis 7).
   * @default - TCP 443 and 80 anywhere (through a NAT gateway)
   */
  readonly egress?: RedisEgressOptions;
  /** redis.conf settings of every data node. */
  readonly redis?: RedisServerOptions;
  /** Sentinel settings. @default - a sentinel on every data node, quorum a majority */
  readonly sentinel?: SentinelOptions;
  /** Sentinel's failover events to EventBridge. @default - on, to the default event bus, no rule */
  readonly events?: RedisEventsOptions;
  /**
   * Writer and reader DNS names in Route 53, updated by the sentinels on a
   * failover (needs Sentinel).
   * @default - no names: clients ask Sentinel for the master
   */
  readonly dns?: RedisDnsOptions;
  /**
   * Metrics (the Prometheus redis exporter on every node, scraped by the
   * Amazon CloudWatch agent) and the Redis and Sentinel logs in CloudWatch.
   * @default - off (CloudWatch bills each custom metric; see the README)
   */
  readonly monitoring?: RedisMonitoringOptions;
  /**
   * TLS for clients, replication and Sentinel, with a CA of the group's own
   * and a certificate per node (made by Terraform's tls provider).
   * @default - TLS on, client certificates optional
   */
  readonly tls?: RedisTlsOptions;
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
