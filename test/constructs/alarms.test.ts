// Alarms and the dashboard at synth time: every alarm with its default
// threshold, periods and missing-data treatment; its metrics are exactly what
// the CloudWatch agent's configuration publishes (names and dimension sets,
// read from the synthesized agent parameter); turning an alarm off, other
// thresholds, SNS actions; the dashboard's body; no IAM statement and no open
// port more; validation.
import { TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { MaxMemoryPolicy, RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError } from "../../lib";
import { METRICS_NAMESPACE } from "../../lib/boot";
import { RedisGroupMetrics } from "../../lib/monitoring/group-metrics";
import { iamStatements, logicalIdAt, newStack, resources, synthJson, TerraformJson } from "../helpers";

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:redis-alarms";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}, scopeId?: string): { json: TerraformJson; group: RedisReplicationGroup } {
  const stack = newStack();
  const scope = scopeId === undefined ? stack : new Construct(stack, scopeId);
  const group = new RedisReplicationGroup(scope, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], ...props });
  return { json: synthJson(stack), group };
}
const monitoring = (extra: NonNullable<RedisReplicationGroupProps["monitoring"]> = {}): Partial<RedisReplicationGroupProps> => ({ monitoring: { enabled: true, ...extra } });

/** Alarms by what their construct id says: "<node>-<kind>" or "<kind>". */
function alarmsOf(json: TerraformJson): Record<string, TerraformJson> {
  const out: Record<string, TerraformJson> = {};
  for (const [id, alarm] of Object.entries(resources(json, "aws_cloudwatch_metric_alarm"))) {
    out[/^redis_alarms_(.+)_[0-9A-F]{8}$/.exec(id)![1]] = alarm;
  }
  return out;
}
const eni = (json: TerraformJson, node: string) => `\${aws_network_interface.${logicalIdAt(json, "aws_network_interface", `redis/${node}/eni`)}.private_ip}`;
const instance = (json: TerraformJson, node: string) => `\${aws_instance.${logicalIdAt(json, "aws_instance", `redis/${node}/instance`)}.id}`;

/** The agent's metric_declaration, from the synthesized SSM parameter: dimension set by metric name. */
function publishedDimensions(json: TerraformJson): Record<string, string[]> {
  const parameter = Object.values(resources(json, "aws_ssm_parameter")).find((p) => /\/cloudwatch-agent$/.test(p.name))!;
  const emf = JSON.parse(parameter.value).logs.metrics_collected.prometheus.emf_processor;
  expect(emf.metric_namespace).toBe(METRICS_NAMESPACE);
  const out: Record<string, string[]> = {};
  for (const d of emf.metric_declaration) {
    const role = d.label_matcher === "^redis$" ? "redis-server" : "redis-sentinel";
    for (const selector of d.metric_selectors) out[`${role} ${selector.slice(1, -1)}`] = [...d.dimensions[0]].sort();
  }
  return out;
}

describe("alarms with monitoring on (the defaults)", () => {
  const { json, group } = synthGroup(monitoring());
  const alarms = alarmsOf(json);
  const dataNodes = ["master", "replica-1", "replica-2"];

  test("the alarms: five per data node, a status check per node, two per group", () => {
    const perNode = ["memory", "evictions", "replicationLink", "rejectedConnections", "bgsaveFailed", "statusCheck"];
    expect(Object.keys(alarms).sort()).toEqual([...dataNodes.flatMap((n) => perNode.map((k) => `${n}-${k}`)), "replicaLag", "sentinelMajority"].sort());
    expect(group.alarmNames).toHaveLength(Object.keys(alarms).length);
    expect(group.alarmArns).toHaveLength(Object.keys(alarms).length);
    expect(alarms["master-memory"].alarm_name).toBe("redis-replication-test-redis-master-memory");
    expect(alarms.sentinelMajority.alarm_name).toBe("redis-replication-test-redis-sentinelMajority");
  });

  test.each([
    { alarm: "memory", comparison: "GreaterThanThreshold", threshold: 80, periods: 5, missing: "missing" },
    { alarm: "evictions", comparison: "GreaterThanThreshold", threshold: 0, periods: 1, missing: "notBreaching" },
    { alarm: "replicationLink", comparison: "LessThanThreshold", threshold: 1, periods: 2, missing: "notBreaching" },
    { alarm: "rejectedConnections", comparison: "GreaterThanThreshold", threshold: 0, periods: 1, missing: "notBreaching" },
    { alarm: "bgsaveFailed", comparison: "LessThanThreshold", threshold: 1, periods: 1, missing: "missing" },
    { alarm: "statusCheck", comparison: "GreaterThanOrEqualToThreshold", threshold: 1, periods: 2, missing: "breaching" },
    { alarm: "replicaLag", comparison: "GreaterThanThreshold", threshold: 10, periods: 3, missing: "notBreaching" },
    { alarm: "sentinelMajority", comparison: "LessThanThreshold", threshold: 2, periods: 2, missing: "breaching" },
  ])("$alarm: $comparison $threshold for $periods minute(s), missing data $missing, no actions", ({ alarm, comparison, threshold, periods, missing }) => {
    const matching = Object.entries(alarms).filter(([id]) => id === alarm || id.endsWith(`-${alarm}`));
    expect(matching.length).toBeGreaterThan(0);
    for (const [, a] of matching) {
      expect({
        comparison: a.comparison_operator,
        threshold: a.threshold,
        periods: a.evaluation_periods,
        datapoints: a.datapoints_to_alarm,
        missing: a.treat_missing_data,
        actions: [a.alarm_actions, a.ok_actions],
      }).toEqual({ comparison, threshold, periods, datapoints: periods, missing, actions: [undefined, undefined] });
    }
  });

  test.each([
    { alarm: "memory", metrics: { used: ["redis_memory_used_bytes", "Maximum"], max: ["redis_memory_max_bytes", "Maximum"] }, expression: "100 * used / max" },
    { alarm: "evictions", metrics: { m: ["redis_evicted_keys_total", "Sum"] } },
    { alarm: "replicationLink", metrics: { m: ["redis_master_link_up", "Minimum"] } },
    { alarm: "rejectedConnections", metrics: { m: ["redis_rejected_connections_total", "Sum"] } },
    { alarm: "bgsaveFailed", metrics: { m: ["redis_rdb_last_bgsave_status", "Minimum"] } },
  ])("$alarm: per data node, on the redis-server metrics the agent publishes with that node's dimensions", ({ alarm, metrics, expression }) => {
    const published = publishedDimensions(json);
    for (const node of dataNodes) {
      const queries: TerraformJson[] = alarms[`${node}-${alarm}`].metric_query;
      const fetched = queries.filter((q) => q.metric);
      expect(Object.fromEntries(fetched.map((q) => [q.id, [q.metric.metric_name, q.metric.stat]]))).toEqual(metrics);
      for (const q of fetched) {
        expect(q.metric.namespace).toBe(METRICS_NAMESPACE);
        expect(q.metric.period).toBe(60);
        expect(q.metric.dimensions).toEqual({ group: "test/redis", node: eni(json, node), role: "redis-server" });
        // The exact dimension set the agent declares for that metric: any other, and the alarm never sees data.
        expect(Object.keys(q.metric.dimensions).sort()).toEqual(published[`redis-server ${q.metric.metric_name}`]);
      }
      const returned = queries.filter((q) => q.return_data);
      expect(returned).toHaveLength(1);
      if (expression) expect(returned[0].expression).toBe(expression);
    }
  });

  test("statusCheck: AWS/EC2 StatusCheckFailed of each node's instance", () => {
    for (const node of dataNodes) {
      expect(alarms[`${node}-statusCheck`].metric_query).toEqual([
        { id: "m", return_data: true, metric: { namespace: "AWS/EC2", metric_name: "StatusCheckFailed", dimensions: { InstanceId: instance(json, node) }, period: 60, stat: "Maximum" } },
      ]);
    }
  });

  test.each([
    { alarm: "replicaLag", fn: "MAX", metric: "redis_connected_slave_lag_seconds", role: "redis-server" },
    { alarm: "sentinelMajority", fn: "SUM", metric: "redis_sentinel_master_status", role: "redis-sentinel" },
  ])("$alarm: one Metrics Insights query of the group's $metric, over exactly its published dimension set", ({ alarm, fn, metric, role }) => {
    const [query] = alarms[alarm].metric_query;
    expect({ id: query.id, period: query.period, return_data: query.return_data }).toEqual({ id: "q", period: 60, return_data: true });
    const parsed = /^SELECT (\w+)\("(\w+)"\) FROM SCHEMA\("(\w+)", (.+)\) WHERE "group" = 'test\/redis' AND "role" = '([\w-]+)'$/.exec(query.expression);
    expect(parsed).not.toBeNull();
    const [, f, name, namespace, dimensions, whereRole] = parsed!;
    expect({ f, name, namespace, whereRole }).toEqual({ f: fn, name: metric, namespace: METRICS_NAMESPACE, whereRole: role });
    expect(dimensions.split(", ").map((d) => JSON.parse(d)).sort()).toEqual(publishedDimensions(json)[`${role} ${metric}`]);
  });

  test("no statement on any node role and no ingress rule come with the alarms and the dashboard", () => {
    const { json: without } = synthGroup(monitoring({ alarms: { enabled: false }, dashboard: false }));
    expect(iamStatements(json)).toEqual(iamStatements(without));
    expect(resources(json, "aws_vpc_security_group_ingress_rule")).toEqual(resources(without, "aws_vpc_security_group_ingress_rule"));
    // The exporter's port stays closed.
    expect(Object.values(resources(json, "aws_vpc_security_group_ingress_rule")).filter((r) => r.from_port === 9121)).toEqual([]);
    expect(resources(without, "aws_cloudwatch_metric_alarm")).toEqual({});
    expect(resources(without, "aws_cloudwatch_dashboard")).toEqual({});
  });

  test("the log group keeps its retention", () => {
    expect(Object.values(resources(json, "aws_cloudwatch_log_group")).map((l) => l.retention_in_days)).toEqual([30]);
  });
});

describe("the dashboard", () => {
  const { json, group } = synthGroup(monitoring());
  const [dashboard] = Object.values(resources(json, "aws_cloudwatch_dashboard"));
  const body = JSON.parse(dashboard.dashboard_body);

  test("one per group, named after the group in the names' alphabet", () => {
    expect(Object.keys(resources(json, "aws_cloudwatch_dashboard"))).toHaveLength(1);
    expect(dashboard.dashboard_name).toBe("redis-replication-test-redis");
    expect(group.dashboardName).toMatch(/TOKEN/);
  });

  test("graphs in the provider's region; every node's address and instance in it; the alarms' widget lists every alarm", () => {
    const metricWidgets = body.widgets.filter((w: TerraformJson) => w.type === "metric");
    expect(metricWidgets.map((w: TerraformJson) => w.properties.title)).toEqual([
      "Memory used (% of maxmemory)",
      "Commands a minute",
      "Clients, and connections refused a minute",
      "Keyspace hits and misses a minute",
      "Keys evicted and expired a minute",
      "Replication link up (replicas: 1)",
      "Replica lag (seconds since the last acknowledgement, by replica)",
      "Sentinels that see an ok master",
      "EC2 status check failed",
    ]);
    const [regionId] = Object.keys(json.data.aws_region);
    for (const w of metricWidgets) expect(w.properties.region).toBe(`\${data.aws_region.${regionId}.region}`);
    for (const node of ["master", "replica-1", "replica-2"]) {
      expect(dashboard.dashboard_body).toContain(eni(json, node));
      expect(dashboard.dashboard_body).toContain(instance(json, node));
    }
    const alarmWidget = body.widgets.find((w: TerraformJson) => w.type === "alarm");
    const arns = Object.keys(resources(json, "aws_cloudwatch_metric_alarm")).map((id) => `\${aws_cloudwatch_metric_alarm.${id}.arn}`);
    expect([...alarmWidget.properties.alarms].sort()).toEqual(arns.sort());
    // Widgets never overlap.
    const cells = new Set<string>();
    for (const w of body.widgets) {
      for (let x = w.x; x < w.x + w.width; x++) for (let y = w.y; y < w.y + w.height; y++) {
        expect(cells.has(`${x},${y}`)).toBe(false);
        cells.add(`${x},${y}`);
      }
    }
  });

  test("every metric line names a published metric with its published dimension set; the majority line is the alarm's threshold", () => {
    const published = publishedDimensions(json);
    const lines = body.widgets.filter((w: TerraformJson) => w.type === "metric").flatMap((w: TerraformJson) => w.properties.metrics);
    const fetched = lines.filter((l: unknown[]) => typeof l[0] === "string");
    expect(fetched.length).toBeGreaterThan(20);
    for (const l of fetched) {
      const [namespace, name, ...rest] = l as string[];
      const dimensions = rest.slice(0, -1).filter((_, i) => i % 2 === 0).sort();
      if (namespace === "AWS/EC2") expect([name, dimensions]).toEqual(["StatusCheckFailed", ["InstanceId"]]);
      else expect(dimensions).toEqual(published[`${rest[rest.indexOf("role") + 1]} ${name}`]);
    }
    const sentinels = body.widgets.find((w: TerraformJson) => w.properties.title === "Sentinels that see an ok master");
    expect(sentinels.properties.annotations.horizontal).toEqual([{ label: "majority", value: 2 }]);
  });

  test("dashboard: false, or monitoring off: no dashboard", () => {
    expect(resources(synthGroup(monitoring({ dashboard: false })).json, "aws_cloudwatch_dashboard")).toEqual({});
    const { json: off, group: plain } = synthGroup();
    expect(resources(off, "aws_cloudwatch_dashboard")).toEqual({});
    expect(resources(off, "aws_cloudwatch_metric_alarm")).toEqual({});
    expect(plain.dashboardName).toBeUndefined();
    expect(plain.alarmNames).toEqual([]);
  });

  test("alarms off: the dashboard has no alarm widget", () => {
    const { json: noAlarms } = synthGroup(monitoring({ alarms: { enabled: false } }));
    const [d] = Object.values(resources(noAlarms, "aws_cloudwatch_dashboard"));
    expect(JSON.parse(d.dashboard_body).widgets.map((w: TerraformJson) => w.type)).not.toContain("alarm");
  });

  test("a group path with characters a dashboard name may not have", () => {
    const { json: nested } = synthGroup(monitoring(), "tenant a.b");
    const [d] = Object.values(resources(nested, "aws_cloudwatch_dashboard"));
    expect(d.dashboard_name).toBe("redis-replication-test-tenant-a-b-redis");
    expect(Object.values(resources(nested, "aws_cloudwatch_metric_alarm")).map((a) => a.alarm_name)).toContain("redis-replication-test-tenant-a.b-redis-master-memory");
  });
});

describe("alarm options", () => {
  test("turning one alarm off removes it on every node, and only it", () => {
    const before = Object.keys(alarmsOf(synthGroup(monitoring()).json));
    const after = Object.keys(alarmsOf(synthGroup(monitoring({ alarms: { memory: { enabled: false } } })).json));
    expect(before.filter((id) => !after.includes(id))).toEqual(["master-memory", "replica-1-memory", "replica-2-memory"]);
    expect(after.filter((id) => !before.includes(id))).toEqual([]);
  });

  test("another threshold and other periods", () => {
    const alarms = alarmsOf(synthGroup(monitoring({ alarms: { memory: { threshold: 90, evaluationPeriods: 10 }, replicaLag: { threshold: 30 } } })).json);
    expect([alarms["replica-1-memory"].threshold, alarms["replica-1-memory"].evaluation_periods, alarms["replica-1-memory"].datapoints_to_alarm]).toEqual([90, 10, 10]);
    expect(alarms.replicaLag.threshold).toBe(30);
    expect(alarms["master-evictions"].threshold).toBe(0);
  });

  test("an SNS topic: alarm and OK actions on every alarm", () => {
    const alarms = Object.values(alarmsOf(synthGroup(monitoring({ alarms: { snsTopicArn: TOPIC } })).json));
    expect(alarms.length).toBeGreaterThan(0);
    for (const a of alarms) expect([a.alarm_actions, a.ok_actions, a.insufficient_data_actions]).toEqual([[TOPIC], [TOPIC], undefined]);
  });

  test.each([
    { case: "an evicting policy: no evictions alarm", props: { redis: { maxMemoryPolicy: MaxMemoryPolicy.ALLKEYS_LRU } }, absent: "evictions" },
    { case: "no RDB snapshots: no bgsave alarm", props: { redis: { snapshotSchedule: "" } }, absent: "bgsaveFailed" },
    { case: "maxmemory 0: no memory alarm", props: { redis: { maxMemory: "0" } }, absent: "memory" },
    { case: "no Sentinel: no majority alarm", props: { sentinel: { enabled: false } }, absent: "sentinelMajority" },
  ])("$case", ({ props, absent }) => {
    const ids = Object.keys(alarmsOf(synthGroup({ ...props, ...monitoring() }).json));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.filter((id) => id === absent || id.endsWith(`-${absent}`))).toEqual([]);
  });

  test("an evicting policy, evictions alarm asked for with a threshold", () => {
    const alarms = alarmsOf(synthGroup({ redis: { maxMemoryPolicy: MaxMemoryPolicy.ALLKEYS_LRU }, ...monitoring({ alarms: { evictions: { enabled: true, threshold: 5000 } } }) }).json);
    expect(alarms["master-evictions"].threshold).toBe(5000);
  });

  test("dedicated sentinels: a status check each, no data-node alarm on them, the majority of five is three", () => {
    const { json } = synthGroup({ sentinel: { dedicatedNodeCount: 5 }, ...monitoring() });
    const ids = Object.keys(alarmsOf(json));
    expect(ids.filter((id) => id.startsWith("sentinel-"))).toEqual(["sentinel-1", "sentinel-2", "sentinel-3", "sentinel-4", "sentinel-5"].map((n) => `${n}-statusCheck`));
    expect(alarmsOf(json).sentinelMajority.threshold).toBe(3);
  });
});

describe("validation of the alarms", () => {
  test.each<{ case: string; props: Partial<RedisReplicationGroupProps>; message: string | RegExp }>([
    { case: "alarms with monitoring off", props: { monitoring: { alarms: { snsTopicArn: TOPIC } } }, message: "monitoring.alarms is set, but monitoring.enabled is not true" },
    { case: "a dashboard with monitoring off", props: { monitoring: { dashboard: true } }, message: "monitoring.dashboard is set, but monitoring.enabled is not true" },
    { case: "settings of alarms turned off", props: monitoring({ alarms: { enabled: false, memory: { threshold: 90 } } }), message: "monitoring.alarms.memory is set, but monitoring.alarms.enabled is false" },
    { case: "a memory threshold above 100 percent", props: monitoring({ alarms: { memory: { threshold: 120 } } }), message: "monitoring.alarms.memory.threshold must be a number above 0 to 100 (percent of maxmemory), got 120" },
    { case: "a negative eviction threshold", props: monitoring({ alarms: { evictions: { threshold: -1 } } }), message: /monitoring\.alarms\.evictions\.threshold must be a number from 0 to \d+ \(keys a minute\), got -1/ },
    { case: "a lag of 0 seconds", props: monitoring({ alarms: { replicaLag: { threshold: 0 } } }), message: "monitoring.alarms.replicaLag.threshold must be a number above 0 to 86400 (seconds), got 0" },
    { case: "more sentinels than there are", props: monitoring({ alarms: { sentinelMajority: { threshold: 4 } } }), message: "monitoring.alarms.sentinelMajority.threshold must be a whole number from 1 to 3 (sentinels), got 4" },
    { case: "half a sentinel", props: monitoring({ alarms: { sentinelMajority: { threshold: 1.5 } } }), message: "got 1.5" },
    { case: "a threshold on a 0-or-1 metric", props: monitoring({ alarms: { statusCheck: { threshold: 2 } } }), message: "monitoring.alarms.statusCheck.threshold cannot be set: the metric is 0 or 1" },
    { case: "evaluation periods out of range", props: monitoring({ alarms: { replicationLink: { evaluationPeriods: 0 } } }), message: "monitoring.alarms.replicationLink.evaluationPeriods must be a whole number from 1 to 180, got 0" },
    { case: "a topic name instead of its ARN", props: monitoring({ alarms: { snsTopicArn: "redis-alarms" } }), message: 'monitoring.alarms.snsTopicArn "redis-alarms" is invalid: expected an SNS topic ARN' },
    { case: "the bgsave alarm without RDB", props: { redis: { snapshotSchedule: "" }, ...monitoring({ alarms: { bgsaveFailed: { enabled: true } } }) }, message: 'monitoring.alarms.bgsaveFailed.enabled is true, but redis.snapshotSchedule is "" (no RDB snapshots)' },
    { case: "the memory alarm without maxmemory", props: { redis: { maxMemory: "0" }, ...monitoring({ alarms: { memory: { enabled: true } } }) }, message: 'monitoring.alarms.memory.enabled is true, but redis.maxMemory is "0" (no limit)' },
    { case: "the majority alarm without Sentinel", props: { sentinel: { enabled: false }, ...monitoring({ alarms: { sentinelMajority: { enabled: true } } }) }, message: "monitoring.alarms.sentinelMajority.enabled is true, but sentinel.enabled is false" },
  ])("$case", ({ props, message }) => {
    expect(() => synthGroup(props)).toThrow(RedisReplicationValidationError);
    expect(() => synthGroup(props)).toThrow(message);
  });

  test("every problem at once", () => {
    expect(() => synthGroup(monitoring({ alarms: { memory: { threshold: 0 }, replicaLag: { evaluationPeriods: 999 } } }))).toThrow(/2 problems/);
  });

  test("tokens are Terraform's to check", () => {
    const stack = newStack();
    const threshold = new TerraformVariable(stack, "threshold", { type: "number" }).numberValue;
    const topic = new TerraformVariable(stack, "topic", { type: "string" }).stringValue;
    expect(
      () => new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a"], monitoring: { enabled: true, alarms: { snsTopicArn: topic, memory: { threshold, evaluationPeriods: threshold } } } }),
    ).not.toThrow();
  });
});

describe("metric definitions", () => {
  test("a metric the agent does not publish is refused, so an alarm cannot wait for data that never comes", () => {
    const metrics = new RedisGroupMetrics("test/redis");
    expect(() => metrics.redis("10.0.0.1", "redis_used_cpu_sys", "Sum")).toThrow("redis_used_cpu_sys is not among the redis-server metrics");
    expect(() => metrics.sentinel("10.0.0.1", "redis_sentinel_master_status", "Sum")).toThrow(/not among the sentinel metrics/);
  });

  test("a group path with a quote stays one string literal in a query", () => {
    expect(new RedisGroupMetrics("it's/redis").sentinelMasterQuery("SUM", "redis_sentinel_master_status")).toContain(`"group" = 'it\\'s/redis'`);
  });
});
