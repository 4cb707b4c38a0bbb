import { RedisPasswordBinding } from "../auth/password";
import {
  AclUser,
  BootPart,
  dataVolumePart,
  DNS_RECONFIG_SCRIPT,
  DnsNamesSettings,
  dnsPart,
  metricsPart,
  NodeSecret,
  NodeTlsMaterial,
  plannedFailoverPart,
  redisRolePart,
  redisServerPart,
  SecretForm,
  secretFetchPart,
  SENTINEL_NOTIFY_SCRIPT,
  ssmAgentPart,
  sentinelEventsPart,
  sentinelPart,
  TlsSettings,
  tlsPart,
  tuningPart,
  updatesPart,
} from "../boot";
import { openFilesLimitFor } from "../node/instance-tuning";
import { resolveRedisConf, resolveSentinelConf } from "../options";
import { MIN_REDIS_MAJOR } from "./defaults";
import { GroupPlan, NodeKind, NodeSpec } from "./planner";

/** A user as the boot sees it: its name and where its secrets are. */
export interface BootUser {
  readonly name: string;
  readonly password: RedisPasswordBinding;
}

/** The users of a group, by role. Sentinel users exist when Sentinel runs. */
export interface GroupBootUsers {
  readonly replication: BootUser;
  readonly admin: BootUser;
  readonly monitor: BootUser;
  readonly sentinel?: BootUser;
  readonly sentinelPeer?: BootUser;
  readonly sentinelClient?: BootUser;
  /** With dedicated sentinels: the data nodes' planned failover logs in to them with it. */
  readonly nodeHandover?: BootUser;
  /** Application users and their ACL rules. */
  readonly applications: ReadonlyArray<{ readonly user: BootUser; readonly rules: readonly string[] }>;
}

/** What every node's boot needs from the group besides the plan. */
export interface GroupBootContext {
  readonly plan: GroupPlan;
  readonly users: GroupBootUsers;
  /** maxmemory of data nodes when the props leave it unset (a Terraform expression). */
  readonly defaultMaxMemory: string;
  /** io-threads of data nodes when the props leave it unset (1, or a Terraform expression of the vCPUs). */
  readonly defaultIoThreads: number | string;
  /** Where the sentinels publish their events; undefined when the plan has none. */
  readonly events?: GroupEventsContext;
  /** The writer and reader names; undefined when the group has none. */
  readonly dns?: DnsNamesSettings;
  /** Where the nodes' CloudWatch agent writes and reads; undefined when the plan has no monitoring. */
  readonly monitoring?: GroupMonitoringContext;
  /** Every sentinel's address, space separated (a token resolved once all nodes exist). */
  readonly sentinelAddresses: string;
}

/** The group's CloudWatch resources, as every node's metrics part sees them. */
export interface GroupMonitoringContext {
  /** What the metrics name as their group (the `group` dimension). */
  readonly group: string;
  readonly logGroupArn: string;
  readonly agentConfigParameterArn: string;
}

/** The group's events, as every sentinel's boot sees them. */
export interface GroupEventsContext {
  /** What the events name as their group. */
  readonly group: string;
  /** PutEvents' EventBusName: "default" or the bus ARN. */
  readonly eventBus: string;
  readonly eventBusArn: string;
}

function required(user: BootUser | undefined, role: string): BootUser {
  if (!user) throw new Error(`the plan runs Sentinel but the group has no ${role} user`);
  return user;
}

/**
 * The secrets a node reads: the password of each user it authenticates as,
 * and only the SHA-256 of each user it authenticates (read as the stored
 * hash when there is one, else as the password, hashed at boot).
 */
export function nodeSecrets(spec: NodeSpec, users: GroupBootUsers, monitoring = false): NodeSecret[] {
  const needs = new Map<string, { user: BootUser; form: SecretForm }>();
  const need = (user: BootUser, form: SecretForm) => {
    // A password serves both: the boot makes the hash from it.
    if (needs.get(user.name)?.form !== SecretForm.PASSWORD) needs.set(user.name, { user, form });
  };
  if (spec.runsRedis) {
    need(users.replication, SecretForm.PASSWORD);
    need(users.admin, SecretForm.SHA256);
    need(users.monitor, SecretForm.SHA256);
    if (users.sentinel) need(users.sentinel, SecretForm.SHA256);
    for (const app of users.applications) need(app.user, SecretForm.SHA256);
  }
  // A data node of dedicated sentinels asks them for the master (the role
  // decision) as sentinel-client: the one login it holds on them.
  if (spec.runsRedis && !spec.runsSentinel && users.sentinelClient) need(users.sentinelClient, SecretForm.PASSWORD);
  // Its planned failover logs in to them as node-handover; they check it.
  if (spec.runsRedis && !spec.runsSentinel && users.nodeHandover) need(users.nodeHandover, SecretForm.PASSWORD);
  if (spec.runsSentinel && !spec.runsRedis && users.nodeHandover) need(users.nodeHandover, SecretForm.SHA256);
  if (spec.runsSentinel) {
    need(required(users.sentinel, "sentinel"), SecretForm.PASSWORD);
    need(required(users.sentinelPeer, "sentinel-peer"), SecretForm.PASSWORD);
    need(required(users.sentinelClient, "sentinel-client"), SecretForm.SHA256);
    need(users.admin, SecretForm.SHA256);
  }
  // The exporter logs in as monitor (to redis-server and to the sentinel).
  if (monitoring) need(users.monitor, SecretForm.PASSWORD);
  return [...needs.values()].map(({ user, form }) => {
    const { password } = user;
    const hashed = form === SecretForm.SHA256 && password.sha256 !== undefined;
    const location = hashed ? password.sha256! : password;
    return {
      user: user.name,
      form: hashed ? SecretForm.SHA256 : SecretForm.PASSWORD,
      store: password.store,
      secretId: location.secretId,
      secretArn: location.secretArn,
      kmsKeyArn: password.kmsKeyArn,
    };
  });
}

/** What a node's boot names that exists only once the node's resources do. */
export interface NodeResources {
  /** The address of the node's network interface. */
  readonly address: string;
  /** Where the node's key and certificates are, when TLS is planned. */
  readonly tls?: NodeTlsMaterial;
  /** The id of the node's data volume, when it has one. */
  readonly dataVolumeId?: string;
}

/**
 * The boot parts of one node: which concerns it runs, each with its
 * settings resolved for this node's address and the master's.
 */
export function nodeBootParts(spec: NodeSpec, node: NodeResources, masterAddress: string | undefined, ctx: GroupBootContext): BootPart[] {
  const { plan, users } = ctx;
  const { address: nodeAddress, tls, dataVolumeId } = node;
  const master = spec.kind === NodeKind.MASTER ? nodeAddress : masterAddress;
  if (master === undefined) throw new Error(`node ${spec.id} is planned before the master`);
  if (plan.tls.enabled !== (tls !== undefined)) throw new Error(`node ${spec.id}: TLS is ${plan.tls.enabled ? "on" : "off"} in the plan, not in the node's material`);
  const ebs = spec.dataVolume?.kind === "ebs";
  if (ebs !== (dataVolumeId !== undefined)) throw new Error(`node ${spec.id}: an EBS data volume is ${ebs ? "" : "not "}planned, but the node has ${dataVolumeId ? "one" : "none"}`);
  const tlsSettings: TlsSettings | undefined = tls && { requireClientCertificates: plan.tls.requireClientCertificates };
  const redis = spec.runsRedis
    ? resolveRedisConf(plan.redis, {
        nodeAddress,
        masterAddress: spec.kind === NodeKind.REPLICA ? master : undefined,
        masterPort: spec.kind === NodeKind.REPLICA ? plan.redisPort : undefined,
        replicaPriority: spec.replicaPriority,
        maxMemory: plan.redis.maxMemory ?? ctx.defaultMaxMemory,
        ioThreads: ctx.defaultIoThreads,
        tls: tlsSettings,
      })
    : undefined;
  const parts: BootPart[] = [tuningPart({ tcpBacklog: redis?.tcpBacklog ?? 511 }), updatesPart(), secretFetchPart(nodeSecrets(spec, users, plan.monitoring !== undefined))];
  if (tls) parts.push(tlsPart({ material: tls, nodeAddress }));
  if (dataVolumeId) parts.push(dataVolumePart({ volumeId: dataVolumeId }));
  else if (spec.dataVolume?.kind === "instance-store") parts.push(dataVolumePart({ instanceStore: true }));
  if (redis) {
    const applicationUsers: AclUser[] = users.applications.map((a) => ({ name: a.user.name, rules: a.rules }));
    parts.push(
      redisServerPart({
        conf: redis,
        applicationUsers,
        sentinelUser: users.sentinel !== undefined,
        minRedisMajor: MIN_REDIS_MAJOR,
        restartDelaySeconds: plan.crashRestartDelaySeconds,
        openFilesLimit: openFilesLimitFor(redis.maxClients),
      }),
    );
  }
  if (redis && plan.sentinelEnabled) {
    // With a sentinel on the node, the decision logs in as sentinel-peer with
    // the password of its sentinel.conf; a data node of dedicated sentinels
    // holds no such login and asks them as sentinel-client, the discovery user.
    const sentinelClient = spec.runsSentinel ? undefined : required(users.sentinelClient, "sentinel-client");
    const restartDelay = plan.crashRestartDelaySeconds;
    if (restartDelay === undefined) throw new Error("the plan runs Sentinel but has no crash restart delay");
    parts.push(
      redisRolePart({
        nodeAddress,
        plannedMaster: spec.kind === NodeKind.MASTER,
        sentinelAddresses: ctx.sentinelAddresses,
        sentinelPort: plan.sentinelPort,
        masterName: plan.masterName,
        // Failure detection and the election, with room to spare.
        waitSeconds: restartDelay + 30,
        loginUser: sentinelClient?.name,
      }),
    );
  }
  if (spec.runsSentinel) {
    const events = plan.eventsEnabled ? ctx.events : undefined;
    if (plan.eventsEnabled && !events) throw new Error(`node ${spec.id}: events are on in the plan, but the group gave no event bus`);
    const conf = resolveSentinelConf(plan.sentinel, {
      nodeAddress,
      masterAddress: master,
      masterPort: plan.redisPort,
      defaultQuorum: plan.quorum,
      tls: tlsSettings,
    });
    const monitorUser = plan.monitoring !== undefined;
    const dns = ctx.dns;
    const scripts = { notificationScript: events && SENTINEL_NOTIFY_SCRIPT, clientReconfigScript: dns && DNS_RECONFIG_SCRIPT };
    const handoverUser = !spec.runsRedis && users.nodeHandover !== undefined;
    parts.push(sentinelPart({ conf: { ...conf, ...scripts, monitorUser, handoverUser }, minRedisMajor: MIN_REDIS_MAJOR }));
    if (events) parts.push(sentinelEventsPart({ ...events, nodeAddress }));
    if (dns) parts.push(dnsPart(dns));
  }
  // The hand-over logs in to the node's own sentinel as node-ops; a data
  // node of dedicated sentinels logs in to them as node-handover.
  if (redis && plan.sentinelEnabled) {
    const remoteUser = spec.runsSentinel ? undefined : required(users.nodeHandover, "node-handover").name;
    parts.push(plannedFailoverPart({ nodeAddress, redisPort: redis.port, remoteUser }));
  }
  if (plan.monitoring) {
    const monitoring = ctx.monitoring;
    if (!monitoring) throw new Error(`node ${spec.id}: monitoring is on in the plan, but the group gave no log group`);
    parts.push(
      metricsPart({
        ...monitoring,
        nodeAddress,
        exporterPort: plan.monitoring.exporterPort,
        redisPort: spec.runsRedis ? plan.redisPort : undefined,
        sentinelPort: spec.runsSentinel ? plan.sentinelPort : undefined,
        tls: plan.tls.enabled,
      }),
    );
  }
  parts.push(ssmAgentPart());
  return parts;
}
