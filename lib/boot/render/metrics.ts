import { BUILTIN_USERS } from "./acl";
import { REDIS_PATHS } from "./redis-conf";
import { TLS_PATHS } from "./tls";

/**
 * Metrics and logs of a node: the Prometheus redis exporter's unit, the
 * scrape configuration the CloudWatch agent reads on the node, and the
 * agent's configuration (one per group, in SSM Parameter Store). Pure text.
 */

/** The CloudWatch namespace of every group's metrics (dimensions tell the groups apart). */
export const METRICS_NAMESPACE = "RedisReplication";
export const EXPORTER_UNIT = "prometheus-redis-exporter.service";
export const EXPORTER_BINARY = "/usr/bin/prometheus-redis-exporter";
export const EXPORTER_DROP_IN = `/etc/systemd/system/${EXPORTER_UNIT}.d/20-redis-node.conf`;
/** The exporter's passwords (root only); systemd hands the exporter a copy (LoadCredential). */
export const EXPORTER_PASSWORDS_PATH = "/etc/redis-node/exporter-passwords.json";
/** The Prometheus scrape configuration of the node's CloudWatch agent. */
export const SCRAPE_CONFIG_PATH = "/etc/redis-node/cloudwatch-prometheus.yaml";

/** The `role` dimension: which process a metric is about. */
export enum MetricsRole {
  REDIS = "redis-server",
  SENTINEL = "redis-sentinel",
}

/** The Prometheus jobs of the scrape configuration, one per process. */
export const SCRAPE_JOBS: Record<MetricsRole, string> = { [MetricsRole.REDIS]: "redis", [MetricsRole.SENTINEL]: "sentinel" };

/**
 * What is published from a redis-server, by the exporter's names (1.45, as
 * Debian 12 and Ubuntu 24.04 package it) and CloudWatch unit.
 */
export const REDIS_METRICS: Readonly<Record<string, string>> = {
  redis_up: "None",
  redis_memory_used_bytes: "Bytes",
  redis_memory_max_bytes: "Bytes",
  redis_connected_clients: "Count",
  redis_rejected_connections_total: "Count",
  redis_evicted_keys_total: "Count",
  redis_expired_keys_total: "Count",
  // A counter: the agent sends the increase since its last scrape (a minute), so ops/s is this / 60.
  redis_commands_processed_total: "Count",
  redis_keyspace_hits_total: "Count",
  redis_keyspace_misses_total: "Count",
  redis_connected_slaves: "Count",
  redis_master_link_up: "None",
  redis_master_last_io_seconds_ago: "Seconds",
  redis_master_repl_offset: "Bytes",
  redis_rdb_last_bgsave_status: "None",
  redis_aof_last_write_status: "None",
  redis_latest_fork_seconds: "Seconds",
};

/**
 * Per replica, as its master sees it (label slave_ip): its acknowledged
 * offset (lag in bytes = the master's redis_master_repl_offset minus this)
 * and the seconds since its last acknowledgement.
 */
export const REPLICA_METRICS: Readonly<Record<string, string>> = {
  redis_connected_slave_offset_bytes: "Bytes",
  redis_connected_slave_lag_seconds: "Seconds",
};

/** What is published from a sentinel: the sentinels and replicas it knows (of its one master name). */
export const SENTINEL_METRICS: Readonly<Record<string, string>> = {
  redis_up: "None",
  redis_sentinel_master_sentinels: "Count",
  redis_sentinel_master_ok_sentinels: "Count",
  redis_sentinel_master_slaves: "Count",
  redis_sentinel_master_ok_slaves: "Count",
  redis_sentinel_tilt: "None",
};

/** The master each sentinel sees: 1 while it is ok, by its address (label master_address), a new series after a failover. */
export const SENTINEL_MASTER_METRICS: Readonly<Record<string, string>> = { redis_sentinel_master_status: "None" };

/** The dimensions of every metric; some add the label that tells their series apart. */
export const METRIC_DIMENSIONS = ["group", "node", "role"] as const;
/** The extra dimension of REPLICA_METRICS: the replica's address, as its master sees it. */
export const REPLICA_DIMENSION = "slave_ip";
/** The extra dimension of SENTINEL_MASTER_METRICS: "<address>:<port>" of the master the sentinel sees. */
export const SENTINEL_MASTER_DIMENSION = "master_address";

export interface ExporterSettings {
  /** The node's address: the exporter listens there, and reaches Redis there (the certificate names it). */
  readonly nodeAddress: string;
  readonly exporterPort: number;
  /** The port of the process the exporter's /metrics reads: redis-server on data nodes, else Sentinel. */
  readonly defaultTargetPort: number;
  readonly tls: boolean;
}

/** A Redis URL of the node's own address, as the exporter and its password file name it. */
export function exporterTarget(nodeAddress: string, port: number, tls: boolean): string {
  return `${tls ? "rediss" : "redis"}://${nodeAddress}:${port}`;
}

/**
 * The exporter's arguments. `%d` is systemd's credentials directory: the
 * password file, and with TLS the node's certificate and key, readable by
 * the exporter's user only, as systemd copied them there (LoadCredential).
 * `-config-command=INFO`: the exporter would send CONFIG GET *, which the
 * monitor user may not (it shows secrets); the Debian package's 1.45 cannot
 * skip it ("-" arrives as an unknown command, an error reply a scrape),
 * while `INFO GET *` answers harmlessly. maxmemory comes from INFO anyway.
 */
export function exporterArgs(s: ExporterSettings): string[] {
  return [
    `-web.listen-address=${s.nodeAddress}:${s.exporterPort}`,
    `-redis.addr=${exporterTarget(s.nodeAddress, s.defaultTargetPort, s.tls)}`,
    `-redis.user=${BUILTIN_USERS.monitor}`,
    "-redis.password-file=%d/passwords.json",
    ...(s.tls ? ["-tls-ca-cert-file=%d/ca.crt", "-tls-client-cert-file=%d/node.crt", "-tls-client-key-file=%d/node.key"] : []),
    "-config-command=INFO",
    "-redis-only-metrics",
  ];
}

/**
 * The exporter unit's drop-in: our arguments instead of the package's
 * $ARGS, credentials through systemd, and a sandbox like the Redis units'
 * (no instance metadata, private umask) and tighter.
 */
export function renderExporterDropIn(s: ExporterSettings): string {
  const credentials = [["passwords.json", EXPORTER_PASSWORDS_PATH]];
  if (s.tls) credentials.push(["ca.crt", TLS_PATHS.caCertificate], ["node.crt", TLS_PATHS.certificate], ["node.key", TLS_PATHS.key]);
  return [
    "[Service]",
    "ExecStart=",
    `ExecStart=${EXPORTER_BINARY} ${exporterArgs(s).join(" ")}`,
    ...credentials.map(([name, file]) => `LoadCredential=${name}:${file}`),
    "UMask=0077",
    "IPAddressDeny=169.254.169.254/32 fd00:ec2::254/128",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "RestrictNamespaces=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes",
    "CapabilityBoundingSet=",
    "",
  ].join("\n");
}

export interface ScrapeSettings {
  /** The group's construct path: the `group` dimension. */
  readonly group: string;
  /** The node's address: the `node` dimension (it survives a failover; the role a node plays does not). */
  readonly nodeAddress: string;
  readonly exporterPort: number;
  /** Set on data nodes: redis-server is the exporter's own target. */
  readonly redisPort?: number;
  /** Set where a sentinel runs: on a data node through /scrape?target=, else the exporter's own target. */
  readonly sentinelPort?: number;
  readonly tls: boolean;
}

/**
 * The Prometheus scrape configuration on the node: every minute, the node's
 * own exporter, with the labels that become the dimensions. YAML written as
 * JSON (a subset of YAML), so nothing needs quoting rules of its own.
 */
export function renderScrapeConfig(s: ScrapeSettings): string {
  const target = `${s.nodeAddress}:${s.exporterPort}`;
  const job = (role: MetricsRole, extra: Record<string, unknown>) => ({
    job_name: SCRAPE_JOBS[role],
    ...extra,
    static_configs: [{ targets: [target], labels: { group: s.group, node: s.nodeAddress, role } }],
    // The agent sends every scraped series to the log group as EMF events,
    // published or not: keep only what is published (the exporter serves
    // some 300 series, per command and per database).
    metric_relabel_configs: [{ source_labels: ["__name__"], regex: publishedMetricsOf(role).join("|"), action: "keep" }],
  });
  const jobs = [];
  if (s.redisPort !== undefined) jobs.push(job(MetricsRole.REDIS, {}));
  if (s.sentinelPort !== undefined) {
    // On a data node the exporter's own target is redis-server: the sentinel through /scrape.
    const extra = s.redisPort !== undefined ? { metrics_path: "/scrape", params: { target: [exporterTarget(s.nodeAddress, s.sentinelPort, s.tls)] } } : {};
    jobs.push(job(MetricsRole.SENTINEL, extra));
  }
  return JSON.stringify({ global: { scrape_interval: "1m", scrape_timeout: "10s" }, scrape_configs: jobs }, null, 1) + "\n";
}

/** The names of the metrics published from a role's job. */
export function publishedMetricsOf(role: MetricsRole): string[] {
  const metrics = role === MetricsRole.REDIS ? { ...REDIS_METRICS, ...REPLICA_METRICS } : { ...SENTINEL_METRICS, ...SENTINEL_MASTER_METRICS };
  return Object.keys(metrics);
}

/** The Redis URLs the exporter logs in to on a node: its password file's keys. */
export function exporterTargetsOf(s: ScrapeSettings): string[] {
  return [s.redisPort, s.sentinelPort].filter((p): p is number => p !== undefined).map((p) => exporterTarget(s.nodeAddress, p, s.tls));
}

export interface AgentConfigSettings {
  /** The group's log group: the Redis and Sentinel logs and the metrics' EMF events. */
  readonly logGroupName: string;
}

const selectors = (metrics: Readonly<Record<string, string>>) => Object.keys(metrics).map((name) => `^${name}$`);

/**
 * The CloudWatch agent's configuration, the same for every node of a group:
 * it tails the Redis and Sentinel logs (one stream per node address and
 * process; a node without one of them simply has no such stream), and reads
 * the node's scrape configuration, publishing the metrics above through the
 * embedded metric format into the log group.
 */
export function renderCloudWatchAgentConfig(s: AgentConfigSettings): string {
  const dimensions = [...METRIC_DIMENSIONS];
  const declaration = (role: MetricsRole, metrics: Readonly<Record<string, string>>, extraDimension?: string) => ({
    source_labels: ["job"],
    label_matcher: `^${SCRAPE_JOBS[role]}$`,
    dimensions: [extraDimension ? [...dimensions, extraDimension] : dimensions],
    metric_selectors: selectors(metrics),
  });
  const file = (path: string, process: string) => ({
    file_path: path,
    log_group_name: s.logGroupName,
    log_stream_name: `{ip_address}/${process}`,
    timezone: "UTC",
  });
  return JSON.stringify({
    agent: { metrics_collection_interval: 60, logfile: "/opt/aws/amazon-cloudwatch-agent/logs/amazon-cloudwatch-agent.log" },
    logs: {
      logs_collected: {
        files: { collect_list: [file(REDIS_PATHS.redisLog, "redis-server"), file(REDIS_PATHS.sentinelLog, "redis-sentinel")] },
      },
      metrics_collected: {
        prometheus: {
          log_group_name: s.logGroupName,
          prometheus_config_path: SCRAPE_CONFIG_PATH,
          emf_processor: {
            metric_declaration_dedup: true,
            metric_namespace: METRICS_NAMESPACE,
            metric_unit: { ...REDIS_METRICS, ...REPLICA_METRICS, ...SENTINEL_METRICS, ...SENTINEL_MASTER_METRICS },
            metric_declaration: [
              declaration(MetricsRole.REDIS, REDIS_METRICS),
              declaration(MetricsRole.REDIS, REPLICA_METRICS, REPLICA_DIMENSION),
              declaration(MetricsRole.SENTINEL, SENTINEL_METRICS),
              declaration(MetricsRole.SENTINEL, SENTINEL_MASTER_METRICS, SENTINEL_MASTER_DIMENSION),
            ],
          },
        },
      },
      force_flush_interval: 15,
    },
  });
}
