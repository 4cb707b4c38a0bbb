// Metrics and logs at synth time: the CloudWatch side (log group, the agent's
// configuration parameter, the two State Manager associations), what each
// node gets (the exporter's drop-in, its scrape configuration, the monitor
// user's password, the metrics step), the node role's statements, the
// exporter's port in the security group; validation of the monitoring props.
import { TerraformVariable } from "cdktf";
import { RedisPeer, RedisPortKind, RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError } from "../../lib";
import {
  EXPORTER_DROP_IN,
  EXPORTER_PASSWORDS_PATH,
  METRICS_NAMESPACE,
  REDIS_METRICS,
  SCRAPE_CONFIG_PATH,
  SECRETS_LIST_PATH,
  SENTINEL_MASTER_METRICS,
  SENTINEL_METRICS,
  unescapeTerraformTemplate,
} from "../../lib/boot";
import { cloudConfigFiles, directivesNamed, eniAddressRef, iamStatements, newStack, nodeEnvVariable, parseRedisConf, resources, synthJson, TerraformJson, userDataOf } from "../helpers";

const SENTINEL_CONF = "/etc/redis-node/sentinel.conf.template";
const KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): { json: TerraformJson; group: RedisReplicationGroup } {
  const stack = newStack();
  const group = new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], ...props });
  return { json: synthJson(stack), group };
}
const only = (json: TerraformJson, type: string): [string, TerraformJson] => {
  const entries = Object.entries(resources(json, type));
  expect(entries).toHaveLength(1);
  return entries[0];
};
const cloudWatchStatements = (json: TerraformJson) =>
  iamStatements(json).filter((s) => s.actions.some((a) => a.startsWith("logs:") || a.startsWith("cloudwatch:")));
const metricsPorts = (json: TerraformJson) =>
  Object.values(resources(json, "aws_vpc_security_group_ingress_rule")).filter((r) => r.from_port === 9121 || /metrics/.test(r.description ?? ""));

describe("monitoring off (the default)", () => {
  const { json, group } = synthGroup();
  test("no log group, parameter, association, exporter, statement or port", () => {
    for (const type of ["aws_cloudwatch_log_group", "aws_ssm_association"]) expect(resources(json, type)).toEqual({});
    expect(Object.values(resources(json, "aws_ssm_parameter")).filter((p) => /cloudwatch/.test(p.name))).toEqual([]);
    for (const userData of Object.values(userDataOf(json))) {
      expect(nodeEnvVariable(userData, "BOOT_PARTS")).not.toMatch(/metrics/);
      expect(Object.keys(cloudConfigFiles(userData)).filter((p) => /exporter|prometheus/.test(p))).toEqual([]);
      expect(cloudConfigFiles(userData)[SECRETS_LIST_PATH]).not.toMatch(/^monitor password/m);
    }
    expect(cloudWatchStatements(json)).toEqual([]);
    expect(metricsPorts(json)).toEqual([]);
    expect(group.logGroupName).toBeUndefined();
    expect(group.metricsPort).toBeUndefined();
  });

  test("the metrics port cannot be opened on a group without an exporter", () => {
    expect(() => group.connections.allowFrom(RedisPeer.ipv4("10.9.0.0/16"), { ports: [RedisPortKind.METRICS] })).toThrow(
      "allowFrom: the metrics port is open only on a group with monitoring.enabled",
    );
  });
});

describe("monitoring on", () => {
  const { json, group } = synthGroup({ monitoring: { enabled: true } });
  const nodes = Object.entries(userDataOf(json));

  test("one log group per group, 30 days, CloudWatch's own encryption", () => {
    const [, logGroup] = only(json, "aws_cloudwatch_log_group");
    expect(logGroup.name).toBe("/redis-replication/test/redis");
    expect(logGroup.retention_in_days).toBe(30);
    expect(logGroup.kms_key_id).toBeUndefined();
    expect(group.logGroupName).toMatch(/TOKEN/);
  });

  test("the agent's configuration: a standard String parameter under 4 KB, logs and EMF metrics to the log group", () => {
    const [logGroupId] = only(json, "aws_cloudwatch_log_group");
    const parameters = Object.values(resources(json, "aws_ssm_parameter")).filter((p) => p.name === "/redis-replication/test/redis/cloudwatch-agent");
    expect(parameters).toHaveLength(1);
    const [parameter] = parameters;
    expect({ type: parameter.type, tier: parameter.tier }).toEqual({ type: "String", tier: "Standard" });
    expect(parameter.value.length).toBeLessThan(4096);
    const config = JSON.parse(parameter.value);
    const logGroup = `\${aws_cloudwatch_log_group.${logGroupId}.name}`;
    expect(config.logs.logs_collected.files.collect_list).toEqual([
      { file_path: "/var/log/redis/redis-server.log", log_group_name: logGroup, log_stream_name: "{ip_address}/redis-server", timezone: "UTC" },
      { file_path: "/var/log/redis/redis-sentinel.log", log_group_name: logGroup, log_stream_name: "{ip_address}/redis-sentinel", timezone: "UTC" },
    ]);
    const prometheus = config.logs.metrics_collected.prometheus;
    expect(prometheus.log_group_name).toBe(logGroup);
    expect(prometheus.prometheus_config_path).toBe(SCRAPE_CONFIG_PATH);
    expect(prometheus.emf_processor.metric_namespace).toBe(METRICS_NAMESPACE);
    const declarations = prometheus.emf_processor.metric_declaration;
    // Every declaration: dimensions group, node, role (plus the label that tells a series apart).
    expect(declarations.map((d: TerraformJson) => [d.label_matcher, d.dimensions])).toEqual([
      ["^redis$", [["group", "node", "role"]]],
      ["^redis$", [["group", "node", "role", "slave_ip"]]],
      ["^sentinel$", [["group", "node", "role"]]],
      ["^sentinel$", [["group", "node", "role", "master_address"]]],
    ]);
    const selected = (i: number) => declarations[i].metric_selectors.map((s: string) => /^\^(\w+)\$$/.exec(s)![1]);
    // What the issue asks for, by the exporter's names.
    expect(selected(0)).toEqual(
      expect.arrayContaining([
        "redis_memory_used_bytes", "redis_memory_max_bytes", "redis_connected_clients", "redis_rejected_connections_total",
        "redis_evicted_keys_total", "redis_expired_keys_total", "redis_commands_processed_total", "redis_keyspace_hits_total",
        "redis_keyspace_misses_total", "redis_master_link_up", "redis_master_last_io_seconds_ago", "redis_master_repl_offset",
        "redis_rdb_last_bgsave_status", "redis_aof_last_write_status", "redis_latest_fork_seconds",
      ]),
    );
    expect(selected(1)).toEqual(["redis_connected_slave_offset_bytes", "redis_connected_slave_lag_seconds"]);
    expect(selected(2)).toEqual(expect.arrayContaining(["redis_up", "redis_sentinel_master_sentinels", "redis_sentinel_master_slaves"]));
    expect(selected(3)).toEqual(["redis_sentinel_master_status"]);
    expect(Object.keys(prometheus.emf_processor.metric_unit).sort()).toEqual(
      [...new Set([...Object.keys(REDIS_METRICS), "redis_connected_slave_offset_bytes", "redis_connected_slave_lag_seconds", ...Object.keys(SENTINEL_METRICS), ...Object.keys(SENTINEL_MASTER_METRICS)])].sort(),
    );
  });

  test("two State Manager associations on the group's tag: AWS-ConfigureAWSPackage installs the agent, AmazonCloudWatch-ManageAgent configures it from the parameter", () => {
    const associations = Object.values(resources(json, "aws_ssm_association"));
    const targets = [{ key: "tag:redis-replication-group", values: ["test/redis"] }];
    const [parameterId] = Object.entries(resources(json, "aws_ssm_parameter")).find(([, p]) => p.name === "/redis-replication/test/redis/cloudwatch-agent")!;
    expect(associations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: "AWS-ConfigureAWSPackage",
          targets,
          parameters: { action: "Install", installationType: "Uninstall and reinstall", name: "AmazonCloudWatchAgent" },
        }),
        expect.objectContaining({
          name: "AmazonCloudWatch-ManageAgent",
          targets,
          schedule_expression: "rate(30 minutes)",
          parameters: {
            action: "configure",
            mode: "ec2",
            optionalConfigurationSource: "ssm",
            optionalConfigurationLocation: `\${aws_ssm_parameter.${parameterId}.name}`,
            optionalRestart: "yes",
          },
        }),
      ]),
    );
    expect(associations).toHaveLength(2);
    // The nodes carry the tag the associations target.
    for (const instance of Object.values(resources(json, "aws_instance"))) expect(instance.tags["redis-replication-group"]).toBe("test/redis");
  });

  test("each node's role: logs on the group's log group only, the agent's parameter, no PutMetricData (EMF carries the metrics)", () => {
    const [logGroupId] = only(json, "aws_cloudwatch_log_group");
    const arn = `\${aws_cloudwatch_log_group.${logGroupId}.arn}`;
    const logs = cloudWatchStatements(json);
    expect(logs).toHaveLength(nodes.length);
    for (const s of logs) {
      expect({ effect: s.effect, actions: s.actions, resources: s.resources, condition: s.condition }).toEqual({
        effect: "Allow",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        resources: [arn, `${arn}:log-stream:*`],
        condition: undefined,
      });
    }
    const [parameterId] = Object.entries(resources(json, "aws_ssm_parameter")).find(([, p]) => p.name === "/redis-replication/test/redis/cloudwatch-agent")!;
    const reads = iamStatements(json).filter((s) => s.resources.includes(`\${aws_ssm_parameter.${parameterId}.arn}`));
    expect(reads.map((s) => s.actions)).toEqual(nodes.map(() => ["ssm:GetParameter"]));
    expect(iamStatements(json).filter((s) => s.actions.some((a) => /^cloudwatch:|^ec2:DescribeTags|^logs:CreateLogGroup|\*/.test(a)))).toEqual([]);
  });

  test.each(nodes.map(([n]) => n))("%s: the metrics step last before ssm-agent, the exporter's drop-in and scrape configuration, the monitor password fetched", (node) => {
    const userData = userDataOf(json)[node];
    const files = cloudConfigFiles(userData);
    const address = eniAddressRef(json, node);
    expect(nodeEnvVariable(userData, "BOOT_PARTS")).toMatch(/ sentinel planned-failover metrics ssm-agent$/);
    expect(nodeEnvVariable(userData, "REDIS_NODE_SERVICES")).toContain("prometheus-redis-exporter.service");
    expect(files[SECRETS_LIST_PATH]).toMatch(/^monitor password ssm \$\{aws_ssm_parameter\.redis_users_monitor_password_[0-9A-F]{8}\.name\}$/m);
    expect(nodeEnvVariable(userData, "EXPORTER_TARGETS")).toBe(`rediss://${address}:6379 rediss://${address}:26379`);
    expect(nodeEnvVariable(userData, "EXPORTER_PASSWORDS")).toBe(EXPORTER_PASSWORDS_PATH);
    const dropIn = unescapeTerraformTemplate(files[EXPORTER_DROP_IN]);
    const execStart = dropIn.split("\n").filter((l) => l.startsWith("ExecStart="));
    expect(execStart[0]).toBe("ExecStart=");
    expect(execStart[1].split(" ")).toEqual([
      "ExecStart=/usr/bin/prometheus-redis-exporter",
      `-web.listen-address=${address}:9121`,
      `-redis.addr=rediss://${address}:6379`,
      "-redis.user=monitor",
      "-redis.password-file=%d/passwords.json",
      "-tls-ca-cert-file=%d/ca.crt",
      "-tls-client-cert-file=%d/node.crt",
      "-tls-client-key-file=%d/node.key",
      "-config-command=INFO",
      "-redis-only-metrics",
    ]);
    // Secrets reach the exporter through systemd's credentials, never its command line or environment.
    expect(dropIn).toContain(`LoadCredential=passwords.json:${EXPORTER_PASSWORDS_PATH}\n`);
    expect(dropIn).toContain("LoadCredential=node.key:/etc/redis/tls/node.key\n");
    for (const line of ["UMask=0077", "IPAddressDeny=169.254.169.254/32 fd00:ec2::254/128", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet="]) {
      expect(dropIn.split("\n")).toContain(line);
    }
    const scrape = JSON.parse(unescapeTerraformTemplate(files[SCRAPE_CONFIG_PATH]));
    expect(scrape.global.scrape_interval).toBe("1m");
    const keep = (names: string[]) => [{ source_labels: ["__name__"], regex: names.join("|"), action: "keep" }];
    expect(scrape.scrape_configs).toEqual([
      {
        job_name: "redis",
        static_configs: [{ targets: [`${address}:9121`], labels: { group: "test/redis", node: address, role: "redis-server" } }],
        metric_relabel_configs: keep([...Object.keys(REDIS_METRICS), "redis_connected_slave_offset_bytes", "redis_connected_slave_lag_seconds"]),
      },
      {
        job_name: "sentinel",
        metrics_path: "/scrape",
        params: { target: [`rediss://${address}:26379`] },
        static_configs: [{ targets: [`${address}:9121`], labels: { group: "test/redis", node: address, role: "redis-sentinel" } }],
        metric_relabel_configs: keep([...Object.keys(SENTINEL_METRICS), ...Object.keys(SENTINEL_MASTER_METRICS)]),
      },
    ]);
    // What the scrape keeps is what the agent's configuration publishes, job by job.
    const config = JSON.parse(Object.values(resources(json, "aws_ssm_parameter")).find((p) => p.name === "/redis-replication/test/redis/cloudwatch-agent")!.value);
    for (const job of scrape.scrape_configs) {
      const published = config.logs.metrics_collected.prometheus.emf_processor.metric_declaration
        .filter((d: TerraformJson) => d.label_matcher === `^${job.job_name}$`)
        .flatMap((d: TerraformJson) => d.metric_selectors.map((m: string) => m.slice(1, -1)));
      expect(job.metric_relabel_configs[0].regex.split("|").sort()).toEqual(published.sort());
    }
    // The sentinel has a monitor user (read-only: INFO and what SENTINEL tells), the data node had one already.
    const monitor = directivesNamed(parseRedisConf(files[SENTINEL_CONF]), "user").find((args) => args[0] === "monitor")!;
    expect(monitor.slice(3)).toEqual([
      "resetkeys", "resetchannels", "-@all", "+ping", "+hello", "+client|setname", "+info",
      "+sentinel|masters", "+sentinel|master", "+sentinel|sentinels", "+sentinel|replicas", "+sentinel|slaves", "+sentinel|ckquorum",
    ]);
    expect(monitor.filter((rule) => rule.startsWith("+") && /config|@|\|(set|remove|failover|reset|monitor)$/i.test(rule))).toEqual([]);
  });

  test("the exporter's port is closed: no ingress rule on it, not even from the group itself", () => {
    expect(metricsPorts(json)).toEqual([]);
    expect(group.metricsPort).toBe(9121);
  });
});

describe("monitoring options", () => {
  test("allowScrapeFrom opens the exporter's port to each source, one rule per source, nothing else", () => {
    const { json, group } = synthGroup({
      monitoring: { enabled: true, exporterPort: 9200, allowScrapeFrom: [RedisPeer.ipv4("10.9.0.0/16"), RedisPeer.securityGroupId("sg-prom")] },
    });
    const rules = Object.entries(resources(json, "aws_vpc_security_group_ingress_rule")).filter(([, r]) => r.from_port === 9200);
    expect(rules.map(([id, r]) => [id.replace(/_[0-9A-F]{8}$/, ""), r.to_port, r.ip_protocol, r.cidr_ipv4 ?? r.referenced_security_group_id, r.description])).toEqual([
      ["redis_security-group_ingress-metrics-cidr-10900-16", 9200, "tcp", "10.9.0.0/16", "metrics from 10.9.0.0/16 (monitoring.allowScrapeFrom)"],
      [expect.stringMatching(/^redis_security-group_ingress-metrics-/), 9200, "tcp", "sg-prom", "metrics from sg-prom (monitoring.allowScrapeFrom)"],
    ]);
    // Not the Redis or Sentinel port for those sources.
    const others = Object.values(resources(json, "aws_vpc_security_group_ingress_rule")).filter((r) => r.cidr_ipv4 === "10.9.0.0/16" || r.referenced_security_group_id === "sg-prom");
    expect(others.map((r) => r.from_port)).toEqual([9200, 9200]);
    for (const userData of Object.values(userDataOf(json))) expect(cloudConfigFiles(userData)[EXPORTER_DROP_IN]).toMatch(/-web\.listen-address=\S+:9200 /);
    // And later, through the connections.
    group.connections.allowFrom(RedisPeer.ipv4("10.8.0.0/16"), { ports: [RedisPortKind.METRICS] });
  });

  test("retention and a KMS key for the log group", () => {
    const { json } = synthGroup({ monitoring: { enabled: true, logRetentionDays: 365, logKmsKeyArn: KEY } });
    const [, logGroup] = only(json, "aws_cloudwatch_log_group");
    expect({ retention: logGroup.retention_in_days, key: logGroup.kms_key_id }).toEqual({ retention: 365, key: KEY });
  });

  test("dedicated sentinels: their exporter reads Sentinel itself, their sentinel.conf has the monitor user", () => {
    const { json } = synthGroup({ monitoring: { enabled: true }, sentinel: { dedicatedNodeCount: 3 } });
    const userData = userDataOf(json)["redis/sentinel-1"];
    const address = eniAddressRef(json, "redis/sentinel-1");
    expect(nodeEnvVariable(userData, "EXPORTER_TARGETS")).toBe(`rediss://${address}:26379`);
    expect(unescapeTerraformTemplate(cloudConfigFiles(userData)[EXPORTER_DROP_IN])).toContain(`-redis.addr=rediss://${address}:26379 `);
    const scrape = JSON.parse(unescapeTerraformTemplate(cloudConfigFiles(userData)[SCRAPE_CONFIG_PATH]));
    expect(scrape.scrape_configs.map((j: TerraformJson) => [j.job_name, j.metrics_path])).toEqual([["sentinel", undefined]]);
    // The data nodes' exporter reads only redis-server.
    expect(nodeEnvVariable(userDataOf(json)["redis/master"], "EXPORTER_TARGETS")).toMatch(/^rediss:\/\/\S+:6379$/);
  });

  test("TLS off: plain redis:// targets, no certificate arguments", () => {
    const { json } = synthGroup({ monitoring: { enabled: true }, tls: { enabled: false } });
    const dropIn = unescapeTerraformTemplate(cloudConfigFiles(userDataOf(json)["redis/master"])[EXPORTER_DROP_IN]);
    expect(dropIn).toMatch(/-redis\.addr=redis:\/\/\S+:6379 /);
    expect(dropIn).not.toMatch(/tls|node\.key/);
  });
});

describe("validation of monitoring", () => {
  test.each<{ case: string; props: Partial<RedisReplicationGroupProps>; message: string | RegExp }>([
    { case: "settings with monitoring off", props: { monitoring: { logRetentionDays: 7 } }, message: "monitoring.logRetentionDays is set, but monitoring.enabled is not true" },
    { case: "a retention CloudWatch does not offer", props: { monitoring: { enabled: true, logRetentionDays: 10 } }, message: /monitoring\.logRetentionDays must be one of CloudWatch Logs' values \(1, 3, 5, 7, 14, 30, .*\), got 10/ },
    { case: "a port out of range", props: { monitoring: { enabled: true, exporterPort: 70000 } }, message: "monitoring.exporterPort must be a whole number from 1 to 65535, got 70000" },
    { case: "the exporter on Redis' port", props: { monitoring: { enabled: true, exporterPort: 6379 } }, message: "monitoring.exporterPort and redis.port must differ, both are 6379" },
    { case: "a key alias", props: { monitoring: { enabled: true, logKmsKeyArn: "alias/logs" } }, message: 'monitoring.logKmsKeyArn "alias/logs" is invalid: expected a KMS key ARN' },
    { case: "a bad scrape source", props: { monitoring: { enabled: true, allowScrapeFrom: [RedisPeer.ipv4("10.0.0.0/33")] } }, message: /10\.0\.0\.0\/33/ },
  ])("$case", ({ props, message }) => {
    expect(() => synthGroup(props)).toThrow(RedisReplicationValidationError);
    expect(() => synthGroup(props)).toThrow(message);
  });

  test("every problem at once", () => {
    expect(() => synthGroup({ monitoring: { enabled: true, exporterPort: 0, logRetentionDays: 2 } })).toThrow(/2 problems/);
  });

  test("tokens are Terraform's to check", () => {
    const stack = newStack();
    const key = new TerraformVariable(stack, "key", { type: "string" }).stringValue;
    const days = new TerraformVariable(stack, "days", { type: "number" }).numberValue;
    expect(() => new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a"], monitoring: { enabled: true, logKmsKeyArn: key, logRetentionDays: days } })).not.toThrow();
  });
});

describe("a group with monitoring, imported into another stack", () => {
  test("the importing stack may open the exporter's port to its scrapers; without the port it may not", () => {
    const { group } = synthGroup({ monitoring: { enabled: true, exporterPort: 9300 } });
    expect(group.attributes.metricsPort).toBe(9300);
    const other = newStack("other");
    const imported = RedisReplicationGroup.fromAttributes(other, "cache", { ...group.attributes, securityGroupId: "sg-0123456789abcdef0" });
    imported.connections.allowFrom(RedisPeer.ipv4("10.7.0.0/16"), { ports: [RedisPortKind.METRICS], description: "prometheus" });
    const rules = Object.values(resources(synthJson(other), "aws_vpc_security_group_ingress_rule"));
    expect(rules.map((r) => [r.from_port, r.to_port, r.cidr_ipv4, r.description])).toEqual([[9300, 9300, "10.7.0.0/16", "metrics from prometheus"]]);

    const plain = RedisReplicationGroup.fromAttributes(newStack("plain"), "cache", { securityGroupId: "sg-0123456789abcdef0", passwordSecretArn: "arn:aws:ssm:eu-west-1:123456789012:parameter/p" });
    expect(() => plain.connections.allowFrom(RedisPeer.ipv4("10.7.0.0/16"), { ports: [RedisPortKind.METRICS] })).toThrow(RedisReplicationValidationError);
  });
});
