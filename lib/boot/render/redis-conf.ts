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
}

/**
 * Renders /etc/redis/redis.conf. Users live in the ACL file; the replication
 * password appears only as a placeholder that the boot substitutes.
 */
export function renderRedisConf(s: RedisConfSettings): string {
  const d: Directive[] = [
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
  ];
  return renderDirectives(d, [
    "Rendered once at first boot by redis-node-setup; Redis rewrites this file",
    "itself (CONFIG REWRITE, and Sentinel after a failover). Edit with care.",
  ]);
}
