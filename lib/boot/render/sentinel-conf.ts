import { BUILTIN_USERS, passwordPlaceholder, sentinelUsers, userLineArgs } from "./acl";
import { directive, renderDirectives } from "./directives";
import { REDIS_PATHS } from "./redis-conf";
import { listenerDirectives, TlsSettings } from "./tls";

/** Everything sentinel.conf needs, fully resolved. */
export interface SentinelConfSettings {
  /** This node's own address: bound and announced to the other sentinels. */
  readonly nodeAddress: string;
  readonly port: number;
  readonly masterName: string;
  /** Address of the master at deploy time; Sentinel tracks it afterwards. */
  readonly masterAddress: string;
  readonly masterPort: number;
  readonly quorum: number;
  readonly downAfterMilliseconds: number;
  readonly failoverTimeoutMilliseconds: number;
  readonly parallelSyncs: number;
  /** TLS for clients, and towards data nodes and the other sentinels; undefined: plaintext on `port`. */
  readonly tls?: TlsSettings;
  /**
   * `sentinel notification-script`: run by Sentinel for each warning-level
   * event (path of a file redis may execute, not write). Set here, at
   * render time: `deny-scripts-reconfig` keeps SENTINEL SET from changing it.
   */
  readonly notificationScript?: string;
  /**
   * `sentinel client-reconfig-script`: run by Sentinel when a failover moves
   * the master (the writer and reader names follow it). Set at render time
   * too.
   */
  readonly clientReconfigScript?: string;
  /** Add the monitor user (the metrics exporter logs in with it). @default false */
  readonly monitorUser?: boolean;
  /** Add the node-handover user (dedicated sentinels: the data nodes' planned failover). @default false */
  readonly handoverUser?: boolean;
}

/**
 * Renders /etc/redis/sentinel.conf. Sentinel rewrites this file as it learns
 * the topology and after every failover, so it is rendered once, at first boot.
 */
export function renderSentinelConf(s: SentinelConfSettings): string {
  const name = s.masterName;
  return renderDirectives(
    [
      directive("bind", s.nodeAddress, "127.0.0.1"),
      ...listenerDirectives(s.port, s.tls),
      directive("protected-mode", true),
      directive("daemonize", false),
      directive("supervised", "systemd"),
      directive("pidfile", REDIS_PATHS.sentinelPid),
      directive("logfile", REDIS_PATHS.sentinelLog),
      directive("dir", REDIS_PATHS.dataDir),
      // ACL users: the default user off, the other sentinels as
      // sentinel-peer, clients as sentinel-client (discovery only), operators
      // as admin. Sentinel stores their passwords as hashes when it rewrites.
      directive("user", ...userLineArgs("default-off")),
      ...sentinelUsers(s.monitorUser ?? false, s.handoverUser ?? false).map((u) => directive("user", ...userLineArgs(u))),
      directive("sentinel", "sentinel-user", BUILTIN_USERS.sentinelPeer),
      directive("sentinel", "sentinel-pass", passwordPlaceholder(BUILTIN_USERS.sentinelPeer)),
      // Announce the ENI address, never a loopback or NAT address.
      directive("sentinel", "announce-ip", s.nodeAddress),
      directive("sentinel", "announce-port", s.port),
      directive("sentinel", "resolve-hostnames", false),
      directive("sentinel", "deny-scripts-reconfig", true),
      directive("sentinel", "monitor", name, s.masterAddress, s.masterPort, s.quorum),
      directive("sentinel", "auth-user", name, BUILTIN_USERS.sentinel),
      directive("sentinel", "auth-pass", name, passwordPlaceholder(BUILTIN_USERS.sentinel)),
      directive("sentinel", "down-after-milliseconds", name, s.downAfterMilliseconds),
      directive("sentinel", "failover-timeout", name, s.failoverTimeoutMilliseconds),
      directive("sentinel", "parallel-syncs", name, s.parallelSyncs),
      ...(s.notificationScript ? [directive("sentinel", "notification-script", name, s.notificationScript)] : []),
      ...(s.clientReconfigScript ? [directive("sentinel", "client-reconfig-script", name, s.clientReconfigScript)] : []),
    ],
    [
      "Rendered once at first boot by redis-node-setup; Sentinel rewrites this",
      "file with the topology it discovers and after every failover.",
    ],
  );
}
