import { CloudwatchMetricAlarm, CloudwatchMetricAlarmMetricQuery } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { Construct } from "constructs";
import { awsNameOf } from "../private/parameter-name";
import { AlarmChoice, AlarmsSpec, RedisAlarmKind } from "./alarms-options";
import { METRICS_PERIOD_SECONDS, RedisGroupMetrics, RedisMetric, statusCheckFailedMetric } from "./group-metrics";

/** A node as its alarms and graphs see it. */
export interface MonitoredNode {
  /** "master", "replica-1", "sentinel-1": the node's construct id. */
  readonly name: string;
  readonly address: string;
  readonly instanceId: string;
  readonly runsRedis: boolean;
  readonly runsSentinel: boolean;
}

export interface RedisGroupAlarmsProps {
  readonly spec: AlarmsSpec;
  readonly metrics: RedisGroupMetrics;
  readonly nodes: readonly MonitoredNode[];
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
}

const single = (metric: RedisMetric): CloudwatchMetricAlarmMetricQuery[] => [{ id: "m", returnData: true, metric }];
const insights = (query: string): CloudwatchMetricAlarmMetricQuery[] => [{ id: "q", returnData: true, expression: query, period: METRICS_PERIOD_SECONDS }];

/**
 * The group's CloudWatch alarms (the alarm choices; the metrics are
 * RedisGroupMetrics'). Per node where the metric is per node; the replica
 * lag and the sentinels' majority once per group, as Metrics Insights
 * queries, because the series they need follow the master, which moves.
 * Construct ids name the node and the alarm, never a counter.
 */
export class RedisGroupAlarms extends Construct {
  public readonly alarms: CloudwatchMetricAlarm[] = [];
  private readonly namePrefix: string;

  constructor(scope: Construct, id: string, private readonly props: RedisGroupAlarmsProps) {
    super(scope, id);
    // Alarm names: at most 255 characters; room for the node and the alarm.
    this.namePrefix = awsNameOf(scope, "A-Za-z0-9_.-", 200);
    const { metrics, nodes } = props;
    for (const node of nodes.filter((n) => n.runsRedis)) {
      const redis = (name: string, stat: string) => metrics.redis(node.address, name, stat);
      this.add("memory", node.name, `memory used above the threshold, in percent of maxmemory`, [
        { id: "used", returnData: false, metric: redis("redis_memory_used_bytes", "Maximum") },
        { id: "max", returnData: false, metric: redis("redis_memory_max_bytes", "Maximum") },
        { id: "percent", returnData: true, expression: "100 * used / max", label: "memory used (% of maxmemory)" },
      ]);
      this.add("evictions", node.name, "keys evicted in a minute, under a policy that should evict none", single(redis("redis_evicted_keys_total", "Sum")));
      this.add("replicationLink", node.name, "replica's link to its master down (a master has no such series)", single(redis("redis_master_link_up", "Minimum")));
      this.add("rejectedConnections", node.name, "connections refused in a minute (maxclients reached)", single(redis("redis_rejected_connections_total", "Sum")));
      this.add("bgsaveFailed", node.name, "last background save (RDB) failed", single(redis("redis_rdb_last_bgsave_status", "Minimum")));
    }
    for (const node of nodes) {
      this.add("statusCheck", node.name, "EC2 status check failed (instance or system), or no status at all (instance stopped)", single(statusCheckFailedMetric(node.instanceId)));
    }
    this.add("replicaLag", undefined, "largest replica lag, in seconds since a replica's last acknowledgement, as its master sees it", insights(metrics.replicasQuery("MAX", "redis_connected_slave_lag_seconds")));
    this.add("sentinelMajority", undefined, "sentinels that see an ok master, fewer than the threshold", insights(metrics.sentinelMasterQuery("SUM", "redis_sentinel_master_status")));
  }

  public get alarmNames(): string[] {
    return this.alarms.map((a) => a.alarmName);
  }

  public get alarmArns(): string[] {
    return this.alarms.map((a) => a.arn);
  }

  private add(kind: RedisAlarmKind, nodeName: string | undefined, what: string, metricQuery: CloudwatchMetricAlarmMetricQuery[]): void {
    const choice: AlarmChoice | undefined = this.props.spec.alarms[kind];
    if (!choice) return;
    const suffix = nodeName === undefined ? kind : `${nodeName}-${kind}`;
    const actions = this.props.spec.snsTopicArn === undefined ? undefined : [this.props.spec.snsTopicArn];
    const where = nodeName === undefined ? this.props.metrics.group : `${this.props.metrics.group}/${nodeName}`;
    this.alarms.push(
      new CloudwatchMetricAlarm(this, suffix, {
        alarmName: `${this.namePrefix}-${suffix}`,
        alarmDescription: `Redis ${where}: ${what}. ${choice.comparison} ${choice.threshold} for ${choice.evaluationPeriods} minute(s); missing data: ${choice.treatMissingData}.`,
        comparisonOperator: choice.comparison,
        threshold: choice.threshold,
        evaluationPeriods: choice.evaluationPeriods,
        datapointsToAlarm: choice.evaluationPeriods,
        treatMissingData: choice.treatMissingData,
        metricQuery,
        alarmActions: actions,
        okActions: actions,
        tags: this.props.tags,
      }),
    );
  }
}
