import { CPU_LIST_DIRECTIVES, RedisConfSettings } from "./boot/render/redis-conf";
import { SentinelConfSettings } from "./boot/render/sentinel-conf";
import { TlsSettings } from "./boot/render/tls";
import { MASTER_NAME_PATTERN } from "./boot/render/values";
import { DEFAULT_REDIS_PORT, DEFAULT_SENTINEL_PORT } from "./private/defaults";
import {
  Problems,
  requireDistinctPorts,
  requireCpuList,
  requireEach,
  requireExtraDirectives,
  requireInteger,
  requireIpv4,
  requireMemorySize,
  requireOneOf,
  requirePattern,
  requirePort,
  requireSnapshotSchedule,
} from "./private/validation";

/** `appendfsync`: how often the append-only file is fsynced. */
export enum AppendFsync {
  /** fsync after every write: safest, slowest. */
  ALWAYS = "always",
  /** fsync once a second: at most about a second of writes lost on a crash. */
  EVERYSEC = "everysec",
  /** leave it to the kernel. */
  NO = "no",
}

/** Redis 7's own `save` schedule. */
export const DEFAULT_SNAPSHOT_SCHEDULE = "3600 1 300 100 60 10000";

/** `maxmemory-policy`: what Redis does when maxmemory is reached. */
export enum MaxMemoryPolicy {
  NOEVICTION = "noeviction",
  ALLKEYS_LRU = "allkeys-lru",
  ALLKEYS_LFU = "allkeys-lfu",
  ALLKEYS_RANDOM = "allkeys-random",
  VOLATILE_LRU = "volatile-lru",
  VOLATILE_LFU = "volatile-lfu",
  VOLATILE_RANDOM = "volatile-random",
  VOLATILE_TTL = "volatile-ttl",
}

/** redis.conf settings a user may set. Every field has a safe default. */
export interface RedisServerOptions {
  /** @default 6379 */
  readonly port?: number;
  /**
   * `tcp-backlog`: queue of connections not yet accepted. The node's
   * net.core.somaxconn is raised to at least this value.
   * @default 2048
   */
  readonly tcpBacklog?: number;
  /** @default 10000 */
  readonly maxClients?: number;
  /**
   * `maxmemory`, a Redis memory size such as "2gb"; "0" means no limit.
   * @default - 70% of the instance type's memory, leaving room for the
   * copy-on-write of BGSAVE / AOF rewrite and for replication buffers
   */
  readonly maxMemory?: string;
  /** @default MaxMemoryPolicy.NOEVICTION (writes fail rather than data vanish) */
  readonly maxMemoryPolicy?: MaxMemoryPolicy;
  /**
   * `appendonly`. Off by default: a replica restarted gracefully (upgrade,
   * reboot) resumes with a partial resync only when it restarts from an RDB
   * snapshot, which holds its replication offset; from an AOF it needs a
   * full copy of the dataset. Durability comes from the replicas and
   * Sentinel; turn this on for at most ~1 s of writes lost when a node
   * restarts by itself, at the cost of full resyncs after restarts.
   * @default false
   */
  readonly appendOnly?: boolean;
  /** @default AppendFsync.EVERYSEC */
  readonly appendFsync?: AppendFsync;
  /**
   * `save` schedule as "<seconds> <changes>" pairs; "" disables RDB snapshots.
   * @default "3600 1 300 100 60 10000" (Redis 7's own default)
   */
  readonly snapshotSchedule?: string;
  /**
   * `repl-backlog-size`: writes kept for replicas that reconnect. A replica
   * that was away for less than backlog / write rate resumes with a partial
   * resync instead of a full copy.
   * @default "128mb"
   */
  readonly replBacklogSize?: string;
  /**
   * Hard limit of `client-output-buffer-limit replica`: a replica whose
   * buffer exceeds it is disconnected. Too small, and a full resync of a big
   * dataset never finishes (endless resync loop).
   * @default "1gb"
   */
  readonly replicaOutputBufferHardLimit?: string;
  /** Soft limit of `client-output-buffer-limit replica`. @default "256mb" */
  readonly replicaOutputBufferSoftLimit?: string;
  /** Seconds the soft limit may be exceeded. @default 120 */
  readonly replicaOutputBufferSoftSeconds?: number;
  /**
   * `min-replicas-to-write`: the master refuses writes unless this many
   * replicas are connected with a lag of at most minReplicasMaxLag seconds.
   * Bounds the writes a master cut off from its replicas can accept (and
   * lose when a failover elects another master).
   * @default - 1 in a replication group with replicas, else 0 (off)
   */
  readonly minReplicasToWrite?: number;
  /**
   * `min-replicas-max-lag` in seconds: how long a master cut off from its
   * replicas goes on accepting writes (about this + 1 s), all of which a
   * failover on the other side drops. Tied to the failure detection, so a
   * partitioned master stops about when Sentinel promotes a replica; larger
   * tolerates longer stalls of every replica at once.
   * @default - sentinel.downAfterMilliseconds in whole seconds, at least 2 (5 by default)
   */
  readonly minReplicasMaxLag?: number;
  /** Addresses to bind besides the node's own and 127.0.0.1. @default - none */
  readonly extraBindAddresses?: string[];
  /**
   * `io-threads`: threads that write replies to clients' sockets (and read
   * them with `io-threads-do-reads yes` in extraDirectives). From 1 to 128,
   * and below the instance type's vCPU count (checked at plan); with TLS it
   * must stay 1 (Redis 7.0's threaded I/O does not work with TLS).
   * @default - from the data nodes' vCPU count, read at plan: vCPUs - 2,
   * at least 1 (off) and at most 8; always 1 with TLS. 2-3 vCPUs: off,
   * 4: 2, 8: 6, 10 and more: 8 (Redis' own advice: at least 4 cores, a
   * spare core, more than 8 threads rarely help)
   */
  readonly ioThreads?: number;
  /**
   * CPUs to pin Redis' threads and children to (`server_cpulist` and the
   * others). Each CPU must be below the instance type's vCPU count
   * (checked at plan: Redis itself would silently ignore the list).
   * @default - none: the kernel schedules every thread
   */
  readonly cpuPinning?: RedisCpuPinning;
  /**
   * Further redis.conf directives, by name, written last. A value is one
   * argument, quoted as needed: Redis reads settings of several values
   * from one argument ("oom-score-adj-values": "0 200 800"). Names may not
   * be directives the library sets (bind, port, auth, replication, ACL,
   * TLS, persistence paths, threads, and every other directive it writes;
   * see the README): synth fails naming them.
   * @default - none
   */
  readonly extraDirectives?: { [name: string]: string };
}

/**
 * CPU lists in the syntax of `taskset -c`: CPUs and ranges, comma
 * separated, a range with an optional stride ("0-3", "0,2,4", "1-7:2").
 */
export interface RedisCpuPinning {
  /** `server_cpulist`: the main thread and the I/O threads. @default - not pinned */
  readonly server?: string;
  /** `bio_cpulist`: the background threads (lazy free, fsync, file close). @default - not pinned */
  readonly bio?: string;
  /** `aof_rewrite_cpulist`: the AOF rewrite child. @default - not pinned */
  readonly aofRewrite?: string;
  /** `bgsave_cpulist`: the BGSAVE child (snapshots, full resyncs of replicas). @default - not pinned */
  readonly bgsave?: string;
}

/** The CPU lists of a pinning, each with the prop that sets it: `redis.cpuPinning.server`, ... */
export function cpuListsOf(pinning: RedisCpuPinning | undefined, prefix = "redis."): Array<{ prop: string; list: string }> {
  return (Object.keys(CPU_LIST_DIRECTIVES) as Array<keyof RedisCpuPinning>)
    .filter((field) => pinning?.[field] !== undefined)
    .map((field) => ({ prop: `${prefix}cpuPinning.${field}`, list: pinning![field]! }));
}

/** Settings of Sentinel on a node. */
export interface SentinelConfigOptions {
  /**
   * Name Sentinel gives the monitored master; clients ask for it.
   * @default "main"
   */
  readonly masterName?: string;
  /**
   * Sentinels that must agree the master is down before a failover.
   * @default - a majority of the sentinels
   */
  readonly quorum?: number;
  /**
   * Milliseconds without a valid reply before a sentinel considers the master
   * down. Lower fails over sooner but risks failovers on a network blip or a
   * long fork; 5000 detects a dead master in 5 s and rides out short stalls.
   * @default 5000
   */
  readonly downAfterMilliseconds?: number;
  /**
   * `failover-timeout`: how long a failover may take, and how long before
   * the same master is failed over again. Sentinels that see the master go
   * down at the same moment can split their first vote (each votes for
   * itself); they try again only 2 x this + up to 1 s later, so this bounds
   * what a split vote costs: about 21 s with 10000, 2 minutes with Redis'
   * 60000. Lower also ends the wait for the promoted replica (its INFO is
   * polled every second) and the reconfiguration of the other replicas
   * sooner (then all at once, ignoring `parallelSyncs`); it is at least
   * 3000 so that a promotion is never given up too early, at most 600000.
   * A crashed redis-server is restarted only after a split vote's retry
   * (see the README's "Persistence and restarts").
   * @default 10000
   */
  readonly failoverTimeoutMilliseconds?: number;
  /** Replicas reconfigured at the same time after a failover. @default 1 */
  readonly parallelSyncs?: number;
  /** @default 26379 */
  readonly port?: number;
}

export const DEFAULT_MASTER_NAME = "main";
export const DEFAULT_DOWN_AFTER_MS = 5000;
/** A split vote costs 2 x this + up to 1 s; 10 s keeps Sentinel's own election timeout, min(10 s, failover-timeout). */
export const DEFAULT_FAILOVER_TIMEOUT_MS = 10_000;
/** A failover whose promoted replica is slow to report its new role (INFO each second) is not given up before this. */
export const MIN_FAILOVER_TIMEOUT_MS = 3000;
/** Above this, a split vote would keep the group without a master for more than 20 minutes. */
export const MAX_FAILOVER_TIMEOUT_MS = 600_000;
/** Below this, a GC pause or a network blip triggers a failover. */
export const MIN_DOWN_AFTER_MS = 1000;
export const MAX_REPLICA_PRIORITY = 1000;

/** Validates literal values of the options. */
export function validateRedisServerOptions(problems: Problems, o: RedisServerOptions, prefix = "redis."): void {
  requirePort(problems, `${prefix}port`, o.port);
  requireInteger(problems, `${prefix}tcpBacklog`, o.tcpBacklog, 1, 65535);
  requireInteger(problems, `${prefix}maxClients`, o.maxClients, 1, 1_000_000);
  requireMemorySize(problems, `${prefix}maxMemory`, o.maxMemory);
  requireOneOf(problems, `${prefix}maxMemoryPolicy`, o.maxMemoryPolicy, Object.values(MaxMemoryPolicy));
  requireOneOf(problems, `${prefix}appendFsync`, o.appendFsync, Object.values(AppendFsync));
  requireSnapshotSchedule(problems, `${prefix}snapshotSchedule`, o.snapshotSchedule);
  requireMemorySize(problems, `${prefix}replBacklogSize`, o.replBacklogSize, 16 * 1024);
  requireMemorySize(problems, `${prefix}replicaOutputBufferHardLimit`, o.replicaOutputBufferHardLimit);
  requireMemorySize(problems, `${prefix}replicaOutputBufferSoftLimit`, o.replicaOutputBufferSoftLimit);
  requireInteger(problems, `${prefix}replicaOutputBufferSoftSeconds`, o.replicaOutputBufferSoftSeconds, 0, 86400);
  requireInteger(problems, `${prefix}minReplicasToWrite`, o.minReplicasToWrite, 0, 100);
  requireInteger(problems, `${prefix}minReplicasMaxLag`, o.minReplicasMaxLag, 1, 3600);
  requireEach(problems, `${prefix}extraBindAddresses`, o.extraBindAddresses, requireIpv4);
  requireInteger(problems, `${prefix}ioThreads`, o.ioThreads, 1, 128);
  for (const { prop, list } of cpuListsOf(o.cpuPinning, prefix)) requireCpuList(problems, prop, list);
  requireExtraDirectives(problems, `${prefix}extraDirectives`, o.extraDirectives);
}

export function validateSentinelOptions(problems: Problems, o: SentinelConfigOptions, prefix = "sentinel."): void {
  requirePattern(
    problems,
    `${prefix}masterName`,
    o.masterName,
    MASTER_NAME_PATTERN,
    "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
  );
  requireInteger(problems, `${prefix}quorum`, o.quorum, 1, 100);
  requireInteger(problems, `${prefix}downAfterMilliseconds`, o.downAfterMilliseconds, MIN_DOWN_AFTER_MS, 3_600_000);
  requireInteger(problems, `${prefix}failoverTimeoutMilliseconds`, o.failoverTimeoutMilliseconds, MIN_FAILOVER_TIMEOUT_MS, MAX_FAILOVER_TIMEOUT_MS);
  requireInteger(problems, `${prefix}parallelSyncs`, o.parallelSyncs, 1, 100);
  requirePort(problems, `${prefix}port`, o.port);
}

/** Applies the defaults: the settings redis.conf is rendered from. */
export function resolveRedisConf(
  o: RedisServerOptions,
  node: {
    nodeAddress: string;
    masterAddress?: string;
    masterPort?: number;
    replicaPriority?: number;
    maxMemory: string;
    /** io-threads when the options leave it unset (a Terraform expression of the vCPUs). */
    ioThreads: number | string;
    tls?: TlsSettings;
  },
): RedisConfSettings {
  return {
    nodeAddress: node.nodeAddress,
    extraBindAddresses: o.extraBindAddresses ?? [],
    port: o.port ?? DEFAULT_REDIS_PORT,
    masterAddress: node.masterAddress,
    masterPort: node.masterPort,
    tcpBacklog: o.tcpBacklog ?? 2048,
    maxClients: o.maxClients ?? 10000,
    maxMemory: o.maxMemory ?? node.maxMemory,
    maxMemoryPolicy: o.maxMemoryPolicy ?? MaxMemoryPolicy.NOEVICTION,
    appendOnly: o.appendOnly ?? false,
    appendFsync: o.appendFsync ?? AppendFsync.EVERYSEC,
    snapshotSchedule: o.snapshotSchedule ?? DEFAULT_SNAPSHOT_SCHEDULE,
    replBacklogSize: o.replBacklogSize ?? "128mb",
    replicaOutputBufferHardLimit: o.replicaOutputBufferHardLimit ?? "1gb",
    replicaOutputBufferSoftLimit: o.replicaOutputBufferSoftLimit ?? "256mb",
    replicaOutputBufferSoftSeconds: o.replicaOutputBufferSoftSeconds ?? 120,
    minReplicasToWrite: o.minReplicasToWrite ?? 0,
    minReplicasMaxLag: o.minReplicasMaxLag ?? 10,
    replicaPriority: node.replicaPriority ?? 100,
    tls: node.tls,
    ioThreads: o.ioThreads ?? node.ioThreads,
    cpuPinning: o.cpuPinning,
    extraDirectives: o.extraDirectives,
  };
}

export function resolveSentinelConf(
  o: SentinelConfigOptions,
  node: { nodeAddress: string; masterAddress: string; masterPort: number; defaultQuorum: number; tls?: TlsSettings },
): SentinelConfSettings {
  return {
    nodeAddress: node.nodeAddress,
    port: o.port ?? DEFAULT_SENTINEL_PORT,
    masterName: o.masterName ?? DEFAULT_MASTER_NAME,
    masterAddress: node.masterAddress,
    masterPort: node.masterPort,
    quorum: o.quorum ?? node.defaultQuorum,
    downAfterMilliseconds: o.downAfterMilliseconds ?? DEFAULT_DOWN_AFTER_MS,
    failoverTimeoutMilliseconds: o.failoverTimeoutMilliseconds ?? DEFAULT_FAILOVER_TIMEOUT_MS,
    parallelSyncs: o.parallelSyncs ?? 1,
    tls: node.tls,
  };
}

/** Redis and Sentinel must listen on different ports. */
export function validatePorts(problems: Problems, redisPort: number | undefined, sentinelPort: number | undefined): void {
  requireDistinctPorts(problems, {
    "sentinel.port": sentinelPort ?? DEFAULT_SENTINEL_PORT,
    "redis.port": redisPort ?? DEFAULT_REDIS_PORT,
  });
}
