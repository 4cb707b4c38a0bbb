import {
  METRIC_DIMENSIONS,
  METRICS_NAMESPACE,
  MetricsRole,
  REDIS_METRICS,
  REPLICA_DIMENSION,
  REPLICA_METRICS,
  SENTINEL_MASTER_DIMENSION,
  SENTINEL_MASTER_METRICS,
  SENTINEL_METRICS,
} from "../boot/render/metrics";

/**
 * What a group's metrics are, apart from what to alarm on (the
 * cdk-monitoring-constructs split): the names and dimension sets are those
 * the CloudWatch agent's metric_declaration publishes (lib/boot/render/metrics.ts),
 * so an alarm or a graph made here matches a series that exists. Pure data.
 */

/** The agent scrapes every minute: one data point per series and minute. */
export const METRICS_PERIOD_SECONDS = 60;

/** One CloudWatch metric with its statistic, as an alarm's metric_query or a graph takes it. */
export interface RedisMetric {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly stat: string;
  readonly period: number;
}

/** Metrics Insights identifiers in double quotes, label values in single quotes; a backslash escapes. */
const identifier = (name: string) => `"${name.replace(/["\\]/g, "\\$&")}"`;
const literal = (value: string) => `'${value.replace(/['\\]/g, "\\$&")}'`;

function requirePublished(metrics: Readonly<Record<string, string>>, name: string, what: string): void {
  if (!(name in metrics)) throw new Error(`${name} is not among the ${what} metrics the CloudWatch agent publishes`);
}

/** The metrics of one group (its `group` dimension: the construct path). */
export class RedisGroupMetrics {
  constructor(public readonly group: string) {}

  /** A redis-server metric of the node at `nodeAddress`. */
  public redis(nodeAddress: string, metricName: string, stat: string): RedisMetric {
    requirePublished(REDIS_METRICS, metricName, "redis-server");
    return this.metric(MetricsRole.REDIS, nodeAddress, metricName, stat);
  }

  /** A per-replica metric of the master at `nodeAddress`, for the replica at `replicaAddress`. */
  public replica(nodeAddress: string, replicaAddress: string, metricName: string, stat: string): RedisMetric {
    requirePublished(REPLICA_METRICS, metricName, "per-replica");
    return this.metric(MetricsRole.REDIS, nodeAddress, metricName, stat, { [REPLICA_DIMENSION]: replicaAddress });
  }

  /** A metric of the sentinel at `nodeAddress`. */
  public sentinel(nodeAddress: string, metricName: string, stat: string): RedisMetric {
    requirePublished(SENTINEL_METRICS, metricName, "sentinel");
    return this.metric(MetricsRole.SENTINEL, nodeAddress, metricName, stat);
  }

  /**
   * A Metrics Insights query over every series of a per-replica metric of
   * the group: it follows whichever node is master, and every replica it
   * has (`groupBy` for a graph with one line per replica).
   */
  public replicasQuery(fn: "MAX" | "MIN" | "SUM" | "AVG", metricName: string, groupBy?: string): string {
    requirePublished(REPLICA_METRICS, metricName, "per-replica");
    return this.query(fn, metricName, MetricsRole.REDIS, REPLICA_DIMENSION, groupBy);
  }

  /**
   * A Metrics Insights query over the sentinels' view of the master: its
   * series carry the master's address, a new one after each failover, so
   * only a query (never a fixed list of dimensions) follows them.
   */
  public sentinelMasterQuery(fn: "MAX" | "MIN" | "SUM" | "AVG", metricName: string, groupBy?: string): string {
    requirePublished(SENTINEL_MASTER_METRICS, metricName, "sentinel master");
    return this.query(fn, metricName, MetricsRole.SENTINEL, SENTINEL_MASTER_DIMENSION, groupBy);
  }

  private metric(role: MetricsRole, nodeAddress: string, metricName: string, stat: string, extra: Record<string, string> = {}): RedisMetric {
    const values: Record<(typeof METRIC_DIMENSIONS)[number], string> = { group: this.group, node: nodeAddress, role };
    const dimensions = Object.fromEntries(METRIC_DIMENSIONS.map((d) => [d, values[d]]));
    return { namespace: METRICS_NAMESPACE, metricName, dimensions: { ...dimensions, ...extra }, stat, period: METRICS_PERIOD_SECONDS };
  }

  /** SCHEMA(...) takes exactly the published dimension set: the query sees those series and no others. */
  private query(fn: string, metricName: string, role: MetricsRole, extraDimension: string, groupBy?: string): string {
    const schema = [METRICS_NAMESPACE, ...METRIC_DIMENSIONS, extraDimension].map(identifier).join(", ");
    const where = `${identifier("group")} = ${literal(this.group)} AND ${identifier("role")} = ${literal(role)}`;
    return `SELECT ${fn}(${identifier(metricName)}) FROM SCHEMA(${schema}) WHERE ${where}${groupBy ? ` GROUP BY ${identifier(groupBy)}` : ""}`;
  }
}

/** EC2's own status checks of an instance (AWS/EC2, published every minute at no charge). */
export function statusCheckFailedMetric(instanceId: string): RedisMetric {
  return { namespace: "AWS/EC2", metricName: "StatusCheckFailed", dimensions: { InstanceId: instanceId }, stat: "Maximum", period: METRICS_PERIOD_SECONDS };
}
