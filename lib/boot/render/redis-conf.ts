import { BUILTIN_USERS, passwordPlaceholder } from "./acl";
import { directive, Directive, renderDirectives } from "./directives";
import { listenerDirectives, TlsSettings } from "./tls";

/** Paths on the node, as laid out by Debian's and Ubuntu's redis packages. */
export const REDIS_PATHS = {
  configDir: "/etc/redis",
  redisConf: "/etc/redis/redis.conf",
  sentinelConf: "/etc/redis/sentinel.conf",
  dataDir: "/var/lib/redis",
  redisLog: "/var/log/redis/redis-server.log",
  sentinelLog: "/var/log/redis/redis-sentinel.log",
  redisPid: "/run/redis/redis-server.pid",
  sentinelPid: "/run/sentinel/redis-sentinel.pid",
  aclFile: "/etc/redis/users.acl",
} as const;

/** Everything redis.conf needs, fully resolved (the constructs apply the defaults). */
export interface RedisConfSettings {
  /** This node's own address: bound, and announced to the master and Sentinel. */
  readonly nodeAddress: string;
  /** Further addresses to bind besides the node address and loopback. */
  readonly extraBindAddresses: readonly string[];
  readonly port: number;
  /** `replicaof` target; undefined on the master. */
  readonly masterAddress?: string;
  readonly masterPort?: number;
  readonly tcpBacklog: number;
  readonly maxClients: number;
  /** Memory size, "0" for no limit. */
  readonly maxMemory: string;
  readonly maxMemoryPolicy: string;
  readonly appendOnly: boolean;
  readonly appendFsync: string;
  /** `save` schedule; "" disables RDB snapshots. */
  readonly snapshotSchedule: string;
  readonly replBacklogSize: string;
  readonly replicaOutputBufferHardLimit: string;
  readonly replicaOutputBufferSoftLimit: string;
  readonly replicaOutputBufferSoftSeconds: number;
  readonly minReplicasToWrite: number;
  readonly minReplicasMaxLag: number;
  readonly replicaPriority: number;
  /** TLS for clients and replication; undefined: plaintext on `port`. */
  readonly tls?: TlsSettings;
  /** `io-threads`: a number, or a Terraform expression of the instance type's vCPUs. */
  readonly ioThreads: number | string;
  /** CPUs of Redis' threads and children (`*_cpulist`); none: the kernel schedules them. */
  readonly cpuPinning?: CpuPinning;
  /** The user's own directives, written last; none may be one the library sets (see ownedDirectiveProblem). */
  readonly extraDirectives?: Readonly<Record<string, string>>;
}

/** CPU lists in `taskset -c` syntax ("0-3", "0,2", "1-7:2"), each for one kind of Redis thread or child. */
export interface CpuPinning {
  /** `server_cpulist`: the main thread and the I/O threads. */
  readonly server?: string;
  /** `bio_cpulist`: the background I/O threads (lazy free, fsync, close). */
  readonly bio?: string;
  /** `aof_rewrite_cpulist`: the AOF rewrite child. */
  readonly aofRewrite?: string;
  /** `bgsave_cpulist`: the BGSAVE child (snapshots, full resyncs). */
  readonly bgsave?: string;
}

/** The redis.conf directive of each CpuPinning field. */
export const CPU_LIST_DIRECTIVES: Readonly<Record<keyof CpuPinning, string>> = {
  server: "server_cpulist",
  bio: "bio_cpulist",
  aofRewrite: "aof_rewrite_cpulist",
  bgsave: "bgsave_cpulist",
};

/**
 * Renders /etc/redis/redis.conf. Users live in the ACL file; the replication
 * password appears only as a placeholder that the boot substitutes.
 */
export function renderRedisConf(s: RedisConfSettings): string {
  const extra = Object.entries(s.extraDirectives ?? {}).map(([name, value]) => directive(name.toLowerCase(), value));
  return renderDirectives(
    [...libraryDirectives(s), ...extra],
    [
      "Rendered once at first boot by redis-node-setup; Redis rewrites this file",
      "itself (CONFIG REWRITE, and Sentinel after a failover). Edit with care.",
    ],
  );
}

/** The directives the library sets, before the user's own. */
function libraryDirectives(s: RedisConfSettings): Directive[] {
  const pinning = s.cpuPinning ?? {};
  return [
    directive("bind", s.nodeAddress, "127.0.0.1", ...s.extraBindAddresses),
    ...listenerDirectives(s.port, s.tls),
    directive("protected-mode", true),
    directive("tcp-backlog", s.tcpBacklog),
    directive("timeout", 0),
    directive("tcp-keepalive", 300),
    directive("daemonize", false),
    directive("supervised", "systemd"),
    directive("pidfile", REDIS_PATHS.redisPid),
    directive("loglevel", "notice"),
    directive("logfile", REDIS_PATHS.redisLog),
    directive("dir", REDIS_PATHS.dataDir),
    directive("maxclients", s.maxClients),
    directive("maxmemory", s.maxMemory),
    directive("maxmemory-policy", s.maxMemoryPolicy),
    // Auth: ACL users (the default user is off). Replicas, and a demoted
    // master after a failover, authenticate to the master as the
    // replication user, which may do nothing but replicate.
    directive("aclfile", REDIS_PATHS.aclFile),
    directive("masteruser", BUILTIN_USERS.replication),
    directive("masterauth", passwordPlaceholder(BUILTIN_USERS.replication)),
    // What no client needs, not even the admin user, stays off for good.
    directive("enable-protected-configs", false),
    directive("enable-debug-command", false),
    directive("enable-module-command", false),
    // Persistence.
    ...(s.snapshotSchedule === ""
      ? [directive("save", "")]
      : [directive("save", ...s.snapshotSchedule.trim().split(/\s+/))]),
    directive("dbfilename", "dump.rdb"),
    directive("appendonly", s.appendOnly),
    directive("appendfilename", "appendonly.aof"),
    directive("appendfsync", s.appendFsync),
    // Replication.
    ...(s.masterAddress !== undefined
      ? [directive("replicaof", s.masterAddress, s.masterPort ?? s.port)]
      : []),
    directive("replica-announce-ip", s.nodeAddress),
    directive("replica-read-only", true),
    directive("replica-serve-stale-data", true),
    directive("replica-priority", s.replicaPriority),
    directive("repl-diskless-sync", true),
    directive("repl-backlog-size", s.replBacklogSize),
    directive("repl-backlog-ttl", 3600),
    directive(
      "client-output-buffer-limit",
      "replica",
      s.replicaOutputBufferHardLimit,
      s.replicaOutputBufferSoftLimit,
      s.replicaOutputBufferSoftSeconds,
    ),
    directive("min-replicas-to-write", s.minReplicasToWrite),
    directive("min-replicas-max-lag", s.minReplicasMaxLag),
    // Threads: set once at start (io-threads cannot change at runtime).
    directive("io-threads", s.ioThreads),
    ...Object.entries(CPU_LIST_DIRECTIVES).flatMap(([field, name]) => {
      const list = pinning[field as keyof CpuPinning];
      return list === undefined ? [] : [directive(name, list)];
    }),
  ];
}

/**
 * Directives a user's extra directives may not set although the renderer
 * does not write them: another way in (include, loadmodule, rename-command),
 * another password or listener (requirepass, user, unixsocket), what would
 * break replication or Sentinel (replica-announce-port, bind-source-addr,
 * cluster-enabled). Every name starting with a prefix of OWNED_PREFIXES too.
 */
const ALSO_OWNED = [
  "include",
  "loadmodule",
  "rename-command",
  "requirepass",
  "user",
  "unixsocket",
  "unixsocketperm",
  "replica-announce-port",
  "bind-source-addr",
  "cluster-enabled",
];
const OWNED_PREFIXES = ["tls-", "enable-"];

let ownedNames: ReadonlySet<string> | undefined;

/**
 * Every directive the library owns: what the renderer writes for a replica
 * with TLS and every CPU list (read from the renderer itself, so that the
 * list cannot drift from it), and ALSO_OWNED.
 */
export function ownedRedisDirectives(): ReadonlySet<string> {
  ownedNames ??= new Set([
    ...libraryDirectives({
      nodeAddress: "10.0.0.2",
      extraBindAddresses: [],
      port: 6379,
      masterAddress: "10.0.0.1",
      masterPort: 6379,
      tcpBacklog: 511,
      maxClients: 1,
      maxMemory: "0",
      maxMemoryPolicy: "noeviction",
      appendOnly: true,
      appendFsync: "everysec",
      snapshotSchedule: "3600 1",
      replBacklogSize: "1mb",
      replicaOutputBufferHardLimit: "1gb",
      replicaOutputBufferSoftLimit: "1gb",
      replicaOutputBufferSoftSeconds: 1,
      minReplicasToWrite: 0,
      minReplicasMaxLag: 1,
      replicaPriority: 100,
      tls: { requireClientCertificates: true },
      ioThreads: 1,
      cpuPinning: { server: "0", bio: "0", aofRewrite: "0", bgsave: "0" },
    }).map((d) => d.name),
    ...ALSO_OWNED,
  ]);
  return ownedNames;
}

/**
 * Why a user's extra directive `name` may not be written, or undefined.
 * Redis reads names in any case and still takes the old "slave" spellings
 * (slaveof, slave-announce-ip, min-slaves-to-write): both are owned too.
 */
export function ownedDirectiveProblem(name: string): string | undefined {
  const canonical = name.toLowerCase().replace(/slave/g, "replica");
  const prefix = OWNED_PREFIXES.find((p) => canonical.startsWith(p));
  if (prefix === undefined && !ownedRedisDirectives().has(canonical)) return undefined;
  return (
    `"${name}" is set by the library (bind, port, auth, replication, ACL, TLS, persistence paths, threads and the ` +
    `${prefix ? `${prefix}* ` : ""}directives it writes cannot be overridden): use the prop that models it, if there is one`
  );
}
