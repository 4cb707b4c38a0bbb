import { CloudwatchDashboard } from "@cdktf/provider-aws/lib/cloudwatch-dashboard";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { Construct } from "constructs";
import { REPLICA_DIMENSION } from "../boot/render/metrics";
import { awsNameOf } from "../private/parameter-name";
import { MonitoredNode } from "./group-alarms";
import { METRICS_PERIOD_SECONDS, RedisGroupMetrics, RedisMetric, statusCheckFailedMetric } from "./group-metrics";

export interface DashboardSettings {
  readonly region: string;
  readonly metrics: RedisGroupMetrics;
  readonly nodes: readonly MonitoredNode[];
  /** The group's alarms (an alarm status widget), if any. */
  readonly alarmArns: readonly string[];
  /** Sentinels that make a majority: a line on the sentinels' graph; undefined without Sentinel. */
  readonly sentinelMajority?: number;
}

type GraphLine = unknown[];

/** A metric as a dashboard line: [namespace, name, dim, value, ..., options]. */
function line(m: RedisMetric, options: Record<string, unknown>): GraphLine {
  return [m.namespace, m.metricName, ...Object.entries(m.dimensions).flat(), { stat: m.stat, ...options }];
}

/**
 * The dashboard's JSON (CloudWatch's dashboard body structure): one graph per
 * concern, a line per node, then the alarms. Pure text; tokens (addresses,
 * instance ids, ARNs) stay in it for Terraform to fill.
 */
export function renderDashboardBody(s: DashboardSettings): string {
  const dataNodes = s.nodes.filter((n) => n.runsRedis);
  const sentinels = s.nodes.filter((n) => n.runsSentinel);
  const redis = (name: string, stat: string) => dataNodes.map((n) => line(s.metrics.redis(n.address, name, stat), { label: `${n.name} ${name}` }));
  const graphs: Array<{ title: string; metrics: GraphLine[]; annotations?: unknown }> = [
    {
      title: "Memory used (% of maxmemory)",
      metrics: dataNodes.flatMap((n, i) => [
        line(s.metrics.redis(n.address, "redis_memory_used_bytes", "Maximum"), { id: `used${i}`, visible: false }),
        line(s.metrics.redis(n.address, "redis_memory_max_bytes", "Maximum"), { id: `max${i}`, visible: false }),
        [{ expression: `100 * used${i} / max${i}`, label: n.name, id: `memory${i}` }],
      ]),
    },
    { title: "Commands a minute", metrics: redis("redis_commands_processed_total", "Sum") },
    { title: "Clients, and connections refused a minute", metrics: [...redis("redis_connected_clients", "Maximum"), ...redis("redis_rejected_connections_total", "Sum")] },
    { title: "Keyspace hits and misses a minute", metrics: [...redis("redis_keyspace_hits_total", "Sum"), ...redis("redis_keyspace_misses_total", "Sum")] },
    { title: "Keys evicted and expired a minute", metrics: [...redis("redis_evicted_keys_total", "Sum"), ...redis("redis_expired_keys_total", "Sum")] },
    { title: "Replication link up (replicas: 1)", metrics: redis("redis_master_link_up", "Minimum") },
    {
      title: "Replica lag (seconds since the last acknowledgement, by replica)",
      metrics: [[{ expression: s.metrics.replicasQuery("MAX", "redis_connected_slave_lag_seconds", REPLICA_DIMENSION), id: "lag", label: "" }]],
    },
  ];
  if (sentinels.length > 0) {
    graphs.push({
      title: "Sentinels that see an ok master",
      metrics: [
        [{ expression: s.metrics.sentinelMasterQuery("SUM", "redis_sentinel_master_status"), id: "seeing", label: "sentinels seeing an ok master" }],
        ...sentinels.map((n) => line(s.metrics.sentinel(n.address, "redis_sentinel_master_ok_sentinels", "Minimum"), { label: `${n.name} ok sentinels` })),
      ],
      annotations: s.sentinelMajority === undefined ? undefined : { horizontal: [{ label: "majority", value: s.sentinelMajority }] },
    });
  }
  graphs.push({ title: "EC2 status check failed", metrics: s.nodes.map((n) => line(statusCheckFailedMetric(n.instanceId), { label: n.name })) });

  const widgets: unknown[] = graphs.map((g, i) => ({
    type: "metric",
    x: (i % 2) * 12,
    y: Math.floor(i / 2) * 6,
    width: 12,
    height: 6,
    properties: { title: g.title, region: s.region, view: "timeSeries", stacked: false, period: METRICS_PERIOD_SECONDS, metrics: g.metrics, annotations: g.annotations },
  }));
  if (s.alarmArns.length > 0) {
    widgets.push({ type: "alarm", x: 0, y: Math.ceil(graphs.length / 2) * 6, width: 24, height: 6, properties: { title: "Alarms", alarms: [...s.alarmArns] } });
  }
  return JSON.stringify({ widgets });
}

export type RedisGroupDashboardProps = Omit<DashboardSettings, "region">;

/** One CloudWatch dashboard per group: "redis-replication-<group path>" in the names' alphabet. */
export class RedisGroupDashboard extends Construct {
  public readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: RedisGroupDashboardProps) {
    super(scope, id);
    // A metric graph needs its region; the provider's, resolved by Terraform.
    const region = new DataAwsRegion(this, "region").region;
    const dashboard = new CloudwatchDashboard(this, "dashboard", {
      // Letters, digits, "-" and "_", at most 255 characters.
      dashboardName: awsNameOf(scope, "A-Za-z0-9_-", 255),
      dashboardBody: renderDashboardBody({ ...props, region }),
    });
    this.dashboardName = dashboard.dashboardName;
  }
}
