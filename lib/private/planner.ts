// Plan, validate, build: props become per-node specs here, without creating
// any construct; the group's constructor only builds what the plan says.
import { Token } from "cdktf";
import {
  DEFAULT_DOWN_AFTER_MS,
  DEFAULT_FAILOVER_TIMEOUT_MS,
  DEFAULT_MASTER_NAME,
  MAX_REPLICA_PRIORITY,
  RedisServerOptions,
  SentinelConfigOptions,
  validatePorts,
  validateRedisServerOptions,
  validateSentinelOptions,
} from "../options";
import { RedisTlsOptions, TlsCertificateAuthoritySlot } from "../auth/tls-options";
import type { RedisUserOptions } from "../auth/user";
import { DataVolumeSpec, resolveDataVolume, validateDataVolumeOptions } from "../node/data-volume-options";
import { MonitoringSpec, resolveMonitoring, validateMonitoringOptions } from "../monitoring/monitoring-options";
import { AlarmsContext } from "../monitoring/alarms-options";
import { parseMemorySize } from "../boot/render/values";
import { DEFAULT_SNAPSHOT_SCHEDULE, MaxMemoryPolicy } from "../options";
import { aclRuleProblem, applicationUserRules, RESERVED_USER_NAMES, USER_NAME_PATTERN } from "../boot/render/acl";
import type { RedisReplicationGroupProps } from "../topology/replication-group-props";
import { architectureOf, CpuArchitecture } from "./architecture";
import {
  DEFAULT_INSTANCE_TYPE,
  DEFAULT_REDIS_PORT,
  DEFAULT_ROOT_VOLUME_GIB,
  DEFAULT_SENTINEL_INSTANCE_TYPE,
  DEFAULT_SENTINEL_PORT,
} from "./defaults";
import {
  Problems,
  requireAwsId,
  requireCidr,
  requireEach,
  requireInstanceType,
  requireInteger,
  requireNonEmptyList,
  requirePattern,
  SNS_TOPIC_ARN,
} from "./validation";

export const MAX_REPLICAS = 15;
export const MAX_DEDICATED_SENTINELS = 15;

/** What a node is at creation time; after a failover, Sentinel decides. */
export enum NodeKind {
  MASTER = "master",
  REPLICA = "replica",
  SENTINEL = "sentinel",
}

/** Everything the builder needs to know about one node. */
export interface NodeSpec {
  /** Construct id: master, replica-1, sentinel-1. */
  readonly id: string;
  readonly kind: NodeKind;
  /** Index into subnetIds (round-robin). */
  readonly subnetIndex: number;
  readonly instanceType: string;
  readonly architecture: CpuArchitecture;
  /** undefined: the newest Debian 12 image of the node's architecture. */
  readonly amiId?: string;
  readonly rootVolumeSizeGiB: number;
  readonly runsRedis: boolean;
  readonly runsSentinel: boolean;
  /** `replica-priority` of a data node. */
  readonly replicaPriority?: number;
  /** The EBS volume that holds a data node's RDB and AOF files; undefined: they stay on the root volume. */
  readonly dataVolume?: DataVolumeSpec;
}

export interface GroupPlan {
  readonly replicaCount: number;
  readonly nodes: NodeSpec[];
  readonly sentinelEnabled: boolean;
  /** Sentinels in the group: one per data node, or the dedicated ones. */
  readonly sentinelCount: number;
  readonly quorum: number;
  readonly masterName: string;
  readonly redisPort: number;
  readonly sentinelPort: number;
  /** redis.conf options of every data node, with the group's defaults applied (maxMemory may stay unset). */
  readonly redis: RedisServerOptions;
  readonly sentinel: SentinelConfigOptions;
  /** RestartSec for a crashed redis-server, when a sentinel watches the group. */
  readonly crashRestartDelaySeconds?: number;
  /** TLS on every port and between the nodes, and whether clients need certificates. */
  readonly tls: {
    readonly enabled: boolean;
    readonly requireClientCertificates: boolean;
    /** The CA that signs the certificates, and those the nodes and clients trust (the signing one among them). */
    readonly signingCertificateAuthority: TlsCertificateAuthoritySlot;
    readonly trustedCertificateAuthorities: readonly TlsCertificateAuthoritySlot[];
  };
  /** Whether the sentinels publish their failover events. */
  readonly eventsEnabled: boolean;
  /** The exporter and the CloudWatch agent on every node; undefined when monitoring is off. */
  readonly monitoring?: MonitoringSpec;
  /** Things worth a synth warning. */
  readonly warnings: string[];
}

/**
 * Restart delay that lets Sentinel promote a replica first, also after a
 * split first vote: the sentinels try again 2 x failover-timeout + up to
 * 1 s (Sentinel's SENTINEL_MAX_DESYNC) after their first try. A crashed
 * master that came back before would be named master again and reload an
 * older snapshot, which its replicas would then follow.
 */
export function restartDelayFor(downAfterMilliseconds: number | undefined, failoverTimeoutMilliseconds: number | undefined): number {
  const downAfter = downAfterMilliseconds ?? DEFAULT_DOWN_AFTER_MS;
  const failoverTimeout = failoverTimeoutMilliseconds ?? DEFAULT_FAILOVER_TIMEOUT_MS;
  return Math.ceil(downAfter / 1000) + Math.ceil((failoverTimeout * 2 + 1000) / 1000) + 10;
}

/**
 * `min-replicas-max-lag` that ties what a partitioned master accepts to the
 * failure detection: it refuses writes about a second after the lag passes
 * this many seconds, when the majority side is promoting a replica
 * (down-after + the election). At least 2 s, so a replica whose acks pause
 * for a second (a slow disk, a fork) never blocks writes on its own.
 */
export function minReplicasMaxLagFor(downAfterMilliseconds: number | undefined): number {
  const downAfter = downAfterMilliseconds ?? DEFAULT_DOWN_AFTER_MS;
  return Math.max(2, Math.ceil(downAfter / 1000));
}

function sentinelCountOf(props: RedisReplicationGroupProps, replicaCount: number): number {
  const sentinel = props.sentinel ?? {};
  if (!(sentinel.enabled ?? true)) return 0;
  const dedicated = sentinel.dedicatedNodeCount ?? 0;
  return dedicated > 0 ? dedicated : replicaCount + 1;
}

/** What the alarms' defaults depend on: the eviction policy, RDB, maxmemory, the sentinels. */
function alarmsContextOf(props: RedisReplicationGroupProps): AlarmsContext {
  const redis = props.redis ?? {};
  const maxMemory = redis.maxMemory;
  return {
    maxMemoryPolicy: redis.maxMemoryPolicy ?? MaxMemoryPolicy.NOEVICTION,
    rdbSnapshots: (redis.snapshotSchedule ?? DEFAULT_SNAPSHOT_SCHEDULE).trim() !== "",
    unlimitedMemory: maxMemory !== undefined && !Token.isUnresolved(maxMemory) && parseMemorySize(maxMemory) === 0,
    sentinelCount: sentinelCountOf(props, props.replicaCount ?? 2),
  };
}

/**
 * Every problem with the props at once, in the words of the prop, the value
 * and what is allowed. Literal values only: tokens are Terraform's to check.
 */
export function validateGroupProps(props: RedisReplicationGroupProps): Problems {
  const p = new Problems();
  const redis = props.redis ?? {};
  const sentinel = props.sentinel ?? {};
  const replicaCount = props.replicaCount ?? 2;
  const countKnown = !Token.isUnresolved(replicaCount) && Number.isInteger(replicaCount) && replicaCount >= 0 && replicaCount <= MAX_REPLICAS;
  if (Token.isUnresolved(replicaCount)) p.add("replicaCount must be a literal number, not a token");
  else requireInteger(p, "replicaCount", replicaCount, 0, MAX_REPLICAS);
  // Synth derives the crash restart delay (RestartSec), the role decision's wait and min-replicas-max-lag from them.
  for (const [prop, derived] of [
    ["downAfterMilliseconds", "the crash restart delay, the role decision's wait and min-replicas-max-lag"],
    ["failoverTimeoutMilliseconds", "the crash restart delay and the role decision's wait"],
  ] as const) {
    if (Token.isUnresolved(sentinel[prop])) p.add(`sentinel.${prop} must be a literal number, not a token: ${derived} are derived from it at synth`);
  }

  requireAwsId(p, "vpcId", props.vpcId, "vpc");
  requireNonEmptyList(p, "subnetIds", props.subnetIds);
  requireEach(p, "subnetIds", props.subnetIds, (q, prop, id) => requireAwsId(q, prop, id, "subnet"));
  requireEach(p, "allowedSecurityGroupIds", props.allowedSecurityGroupIds, (q, prop, id) => requireAwsId(q, prop, id, "sg"));
  requireEach(p, "allowedCidrs", props.allowedCidrs, requireCidr);
  requireInstanceType(p, "instanceType", props.instanceType);
  requireAwsId(p, "amiId", props.amiId, "ami");
  requireInteger(p, "rootVolumeSizeGiB", props.rootVolumeSizeGiB, 8, 16384);
  requireInstanceType(p, "sentinel.dedicatedInstanceType", sentinel.dedicatedInstanceType);
  requireAwsId(p, "sentinel.dedicatedAmiId", sentinel.dedicatedAmiId, "ami");
  validateRedisServerOptions(p, redis);
  validateDataVolumeOptions(p, props.dataVolume, redis.maxMemory);
  validateSentinelOptions(p, sentinel);
  validatePorts(p, redis.port, sentinel.port);
  for (const problem of props.password?.validate() ?? []) p.add(problem);

  const minReplicas = redis.minReplicasToWrite;
  if (countKnown && minReplicas !== undefined && !Token.isUnresolved(minReplicas) && minReplicas > replicaCount) {
    p.add(`redis.minReplicasToWrite must be at most replicaCount (${replicaCount}), got ${minReplicas}: the master would refuse every write`);
  }
  const priorities = props.replicaPriorities;
  if (priorities && !Token.isUnresolved(priorities)) {
    if (countKnown && priorities.length !== replicaCount + 1) {
      p.add(
        `replicaPriorities must have one entry per data node (1 master + ${replicaCount} replicas = ${replicaCount + 1}), got ${priorities.length}`,
      );
    }
    requireEach(p, "replicaPriorities", priorities, (q, prop, value) => requireInteger(q, prop, value, 0, MAX_REPLICA_PRIORITY));
  }

  validateUsers(p, props);
  if (props.tls?.enabled === false && props.tls.requireClientCertificates) {
    p.add("tls.requireClientCertificates needs TLS: remove it, or leave tls.enabled at its default (true)");
  }
  validateCertificateAuthorities(p, props.tls);
  const ioThreads = redis.ioThreads;
  if ((props.tls?.enabled ?? true) && ioThreads !== undefined && !Token.isUnresolved(ioThreads) && ioThreads > 1) {
    p.add(`redis.ioThreads must be 1 with TLS (Redis 7.0's threaded I/O does not work with TLS), got ${ioThreads}: leave it unset, or set tls.enabled false`);
  }

  validateEvents(p, props);
  validateMonitoringOptions(p, props.monitoring, redis.port ?? DEFAULT_REDIS_PORT, sentinel.port ?? DEFAULT_SENTINEL_PORT, alarmsContextOf(props));

  const dedicated = sentinel.dedicatedNodeCount ?? 0;
  requireInteger(p, "sentinel.dedicatedNodeCount", dedicated, 0, MAX_DEDICATED_SENTINELS);
  if (countKnown && (sentinel.enabled ?? true)) {
    const count = sentinelCountOf(props, replicaCount);
    const where = dedicated > 0 ? "sentinel.dedicatedNodeCount" : "sentinels (one per data node: 1 + replicaCount)";
    if (count < 3 && !sentinel.allowFewerThanThreeSentinels) {
      p.add(
        `${where} gives ${count} sentinel(s); at least 3 are needed for a failover to survive the loss of a node. ` +
          "Add replicas or dedicated sentinels, or set sentinel.allowFewerThanThreeSentinels to accept a setup that is not highly available",
      );
    }
    const quorum = sentinel.quorum;
    if (quorum !== undefined && !Token.isUnresolved(quorum) && quorum > count) {
      p.add(`sentinel.quorum must be at most the number of sentinels (${count}), got ${quorum}: no failover could ever start`);
    }
  }
  return p;
}

/** ARNs of an event bus and an SNS topic (any partition). */
const EVENT_BUS_ARN = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]{1,256}$/;

function validateEvents(p: Problems, props: RedisReplicationGroupProps): void {
  const events = props.events;
  if (!events) return;
  const sentinelEnabled = props.sentinel?.enabled ?? true;
  if (events.enabled === true && !sentinelEnabled) {
    p.add("events.enabled needs Sentinel (the events are Sentinel's): remove it, or leave sentinel.enabled at its default (true)");
  }
  const off = events.enabled === false || !sentinelEnabled;
  for (const prop of ["eventBusArn", "snsTopicArn"] as const) {
    if (off && events[prop] !== undefined) p.add(`events.${prop} is set, but no events are published (events.enabled or sentinel.enabled is false)`);
  }
  requirePattern(p, "events.eventBusArn", events.eventBusArn, EVENT_BUS_ARN, "expected an event bus ARN such as arn:aws:events:eu-west-1:123456789012:event-bus/default");
  requirePattern(p, "events.snsTopicArn", events.snsTopicArn, SNS_TOPIC_ARN, "expected an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:redis-failovers");
}

/** The default application user when `users` is not given. */
export const DEFAULT_APPLICATION_USER = "app";

/** The application users, with the defaults applied. */
export function applicationUsersOf(props: RedisReplicationGroupProps): RedisUserOptions[] {
  return props.users ?? [{ name: DEFAULT_APPLICATION_USER, password: props.password }];
}

/** The ACL rules of an application user. */
export function rulesOf(user: RedisUserOptions): string[] {
  return applicationUserRules({
    keyPatterns: user.keyPatterns ?? ["*"],
    channelPatterns: user.channelPatterns ?? ["*"],
    readOnly: user.readOnly ?? false,
    allowScripting: user.allowScripting ?? false,
    extraRules: user.extraRules ?? [],
  });
}

function validateUsers(p: Problems, props: RedisReplicationGroupProps): void {
  if (props.users && props.password) {
    p.add("password is the password of the default user \"app\"; with users, give each user its password in users[i].password");
  }
  if (props.users && props.users.length === 0) p.add("users must name at least one application user, got an empty list");
  const seen = new Set<string>();
  (props.users ?? []).forEach((user, i) => {
    const at = `users[${i}]`;
    if (!USER_NAME_PATTERN.test(user.name)) {
      p.add(`${at}.name "${user.name}" is invalid: use 1-64 letters, digits, '-' or '_', starting with a letter`);
    } else if (RESERVED_USER_NAMES.includes(user.name)) {
      p.add(`${at}.name "${user.name}" is taken by the library (${RESERVED_USER_NAMES.join(", ")})`);
    } else if (seen.has(user.name)) {
      p.add(`${at}.name "${user.name}" is given twice`);
    }
    seen.add(user.name);
    for (const [field, patterns] of [["keyPatterns", user.keyPatterns], ["channelPatterns", user.channelPatterns]] as const) {
      (patterns ?? []).forEach((pattern, j) => {
        if (pattern === "" || /\s/.test(pattern)) p.add(`${at}.${field}[${j}] "${pattern}" is invalid: a pattern is one word without spaces`);
      });
    }
    (user.extraRules ?? []).forEach((rule, j) => {
      const problem = aclRuleProblem(rule);
      if (problem) p.add(`${at}.extraRules[${j}]: ${problem}`);
    });
    for (const problem of user.password?.validate() ?? []) p.add(`${at}.${problem}`);
  });
}

const signingCaOf = (tls: RedisTlsOptions | undefined) => tls?.signingCertificateAuthority ?? TlsCertificateAuthoritySlot.PRIMARY;

/** The CAs: known slots, the signing one trusted, each once; none of it with TLS off. */
/** A CA of your own: a key only as a Terraform expression, a literal certificate only as PEM. */
function validateExternalCertificateAuthorities(p: Problems, tls: RedisTlsOptions | undefined): void {
  const external = tls?.certificateAuthorities;
  if (external === undefined) return;
  if (tls!.enabled === false) {
    p.add("tls.certificateAuthorities needs TLS: remove it, or leave tls.enabled at its default (true)");
    return;
  }
  const slots: string[] = Object.values(TlsCertificateAuthoritySlot);
  for (const [slot, ca] of Object.entries(external)) {
    if (!slots.includes(slot)) p.add(`tls.certificateAuthorities.${slot} is not a CA slot: use ${slots.join(" or ")}`);
    if (ca === undefined) continue;
    if (!Token.isUnresolved(ca.privateKeyPem)) {
      p.add(`tls.certificateAuthorities.${slot}.privateKeyPem is literal text: a key must not be in the synthesized JSON; pass a Terraform expression (for example the secretString of a DataAwsSecretsmanagerSecretVersion)`);
    }
    if (!Token.isUnresolved(ca.certificatePem) && !/^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+-----END CERTIFICATE-----\s*$/.test(ca.certificatePem)) {
      p.add(`tls.certificateAuthorities.${slot}.certificatePem is not one PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)`);
    }
  }
}

function validateCertificateAuthorities(p: Problems, tls: RedisTlsOptions | undefined): void {
  validateExternalCertificateAuthorities(p, tls);
  if (tls?.signingCertificateAuthority === undefined && tls?.trustedCertificateAuthorities === undefined) return;
  if (tls.enabled === false) {
    p.add("tls.signingCertificateAuthority and tls.trustedCertificateAuthorities need TLS: remove them, or leave tls.enabled at its default (true)");
    return;
  }
  const slots: string[] = Object.values(TlsCertificateAuthoritySlot);
  const signing = signingCaOf(tls);
  const trusted = tls.trustedCertificateAuthorities ?? [signing];
  for (const slot of [signing, ...trusted]) {
    if (!slots.includes(slot)) p.add(`tls certificate authority "${slot}" is unknown: use one of ${slots.join(", ")}`);
  }
  if (new Set(trusted).size !== trusted.length) p.add(`tls.trustedCertificateAuthorities lists a CA twice: ${trusted.join(", ")}`);
  if (!trusted.includes(signing)) {
    p.add(
      `tls.trustedCertificateAuthorities (${trusted.join(", ") || "none"}) must include the signing CA (${signing}): ` +
        "the nodes would refuse each other's certificates",
    );
  }
}

/** Turns validated props into node specs and resolved group settings. */
export function planGroup(props: RedisReplicationGroupProps): GroupPlan {
  const redis = props.redis ?? {};
  const sentinel = props.sentinel ?? {};
  const replicaCount = props.replicaCount ?? 2;
  const sentinelEnabled = sentinel.enabled ?? true;
  const dedicated = sentinelEnabled ? (sentinel.dedicatedNodeCount ?? 0) : 0;
  const sentinelCount = sentinelCountOf(props, replicaCount);
  const warnings: string[] = [];
  const tlsEnabled = props.tls?.enabled ?? true;
  if (!tlsEnabled) {
    warnings.push(
      "tls.enabled is false: passwords and data cross the network in clear text (clients, replication, Sentinel); " +
        "anyone on the path can read them. Keep TLS on unless something in between encrypts all of it",
    );
  }
  if (sentinelEnabled && sentinelCount % 2 === 0) {
    warnings.push(`${sentinelCount} sentinels: an even count tolerates no more failures than ${sentinelCount - 1}; prefer an odd number`);
  }

  const instanceType = props.instanceType ?? DEFAULT_INSTANCE_TYPE;
  const dataArchitecture = architectureOf(instanceType);
  const rootVolumeSizeGiB = props.rootVolumeSizeGiB ?? DEFAULT_ROOT_VOLUME_GIB;
  const dataVolume = resolveDataVolume(props.dataVolume);
  const nodes: NodeSpec[] = [];
  for (let i = 0; i <= replicaCount; i++) {
    nodes.push({
      id: i === 0 ? "master" : `replica-${i}`,
      kind: i === 0 ? NodeKind.MASTER : NodeKind.REPLICA,
      subnetIndex: i,
      instanceType,
      architecture: dataArchitecture,
      amiId: props.amiId,
      rootVolumeSizeGiB,
      runsRedis: true,
      runsSentinel: sentinelEnabled && dedicated === 0,
      replicaPriority: props.replicaPriorities?.[i],
      dataVolume,
    });
  }

  const sentinelType = sentinel.dedicatedInstanceType ?? DEFAULT_SENTINEL_INSTANCE_TYPE;
  const sentinelArchitecture = architectureOf(sentinelType);
  let sentinelAmi = sentinel.dedicatedAmiId;
  if (sentinelAmi === undefined && props.amiId !== undefined && dedicated > 0) {
    if (sentinelArchitecture === dataArchitecture) {
      sentinelAmi = props.amiId;
    } else {
      warnings.push(
        `amiId is an image for ${dataArchitecture} (instanceType ${instanceType}); the dedicated sentinels (${sentinelType}, ${sentinelArchitecture}) ` +
          `get the newest Debian 12 ${sentinelArchitecture} image instead. Set sentinel.dedicatedAmiId to choose theirs`,
      );
    }
  }
  for (let i = 0; i < dedicated; i++) {
    nodes.push({
      id: `sentinel-${i + 1}`,
      kind: NodeKind.SENTINEL,
      subnetIndex: i,
      instanceType: sentinelType,
      architecture: sentinelArchitecture,
      amiId: sentinelAmi,
      rootVolumeSizeGiB,
      runsRedis: false,
      runsSentinel: true,
    });
  }

  return {
    replicaCount,
    nodes,
    sentinelEnabled,
    sentinelCount,
    quorum: sentinel.quorum ?? Math.floor(sentinelCount / 2) + 1,
    masterName: sentinel.masterName ?? DEFAULT_MASTER_NAME,
    redisPort: redis.port ?? DEFAULT_REDIS_PORT,
    sentinelPort: sentinel.port ?? DEFAULT_SENTINEL_PORT,
    redis: {
      ...redis,
      minReplicasToWrite: redis.minReplicasToWrite ?? (replicaCount > 0 ? 1 : 0),
      minReplicasMaxLag: redis.minReplicasMaxLag ?? minReplicasMaxLagFor(sentinel.downAfterMilliseconds),
    },
    sentinel,
    // With dedicated sentinels the data nodes run none, but still need the delay.
    crashRestartDelaySeconds: sentinelEnabled ? restartDelayFor(sentinel.downAfterMilliseconds, sentinel.failoverTimeoutMilliseconds) : undefined,
    tls: {
      enabled: tlsEnabled,
      requireClientCertificates: tlsEnabled && (props.tls?.requireClientCertificates ?? false),
      signingCertificateAuthority: signingCaOf(props.tls),
      trustedCertificateAuthorities: props.tls?.trustedCertificateAuthorities ?? [signingCaOf(props.tls)],
    },
    eventsEnabled: sentinelEnabled && (props.events?.enabled ?? true),
    monitoring: resolveMonitoring(props.monitoring, alarmsContextOf(props)),
    warnings,
  };
}
