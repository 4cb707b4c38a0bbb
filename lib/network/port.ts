/**
 * The ports a Redis node listens on, by role. Rules name a kind, never a
 * number, so a custom port number changes every rule that uses it at once.
 *
 * To add a kind (TLS, the cluster bus): add a member here, a field for its
 * number to `RedisConnectionPorts`, and its case to `portNumberOf` (the
 * compiler points at that switch). `RedisConnections.allowInternally` then
 * opens it between the nodes; clients get it only where a caller names it,
 * or once it joins the default client kinds of `RedisConnectionsProps`.
 */
export enum RedisPortKind {
  /** The port of redis-server: clients send commands to it, replicas replicate over it. */
  REDIS = "redis",
  /** The port of Redis Sentinel: clients ask it for the master, sentinels talk to each other on it. */
  SENTINEL = "sentinel",
  /**
   * The port of the Prometheus redis exporter (with `monitoring`): closed
   * unless named, not even open between the nodes (each node's CloudWatch
   * agent scrapes its own exporter).
   */
  METRICS = "metrics",
}

/** The port number of each kind, as the nodes listen on them. */
export interface RedisConnectionPorts {
  /** Port of redis-server (`port` in redis.conf). */
  readonly redis: number;
  /** Port of Redis Sentinel (`port` in sentinel.conf). */
  readonly sentinel: number;
  /** Port of the metrics exporter, when the group runs one. @default - none: the METRICS kind cannot be opened */
  readonly metrics?: number;
}

/** The number of the port `kind` in `ports`. */
export function portNumberOf(ports: RedisConnectionPorts, kind: RedisPortKind): number {
  switch (kind) {
    case RedisPortKind.REDIS:
      return ports.redis;
    case RedisPortKind.SENTINEL:
      return ports.sentinel;
    case RedisPortKind.METRICS:
      if (ports.metrics === undefined) throw new Error("the group runs no metrics exporter (monitoring.enabled is false): there is no metrics port to open");
      return ports.metrics;
    default: {
      // Unreachable from TypeScript; a new kind without a case fails to compile here.
      const unknown: never = kind;
      throw new Error(`unknown Redis port kind ${JSON.stringify(unknown)}, expected one of ${Object.values(RedisPortKind).join(", ")}`);
    }
  }
}
