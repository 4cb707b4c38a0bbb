import { Token } from "cdktf";
import { RedisPeer } from "../network/peer";
import { Problems, requireDistinctPorts, requirePattern, requirePort } from "../private/validation";
import { AlarmsContext, AlarmsSpec, RedisAlarmsOptions, resolveAlarms, validateAlarmsOptions } from "./alarms-options";

/** Metrics and logs of a replication group, in Amazon CloudWatch. */
export interface RedisMonitoringOptions {
  /**
   * Run the Prometheus redis exporter on every node and ship its metrics
   * and the Redis and Sentinel logs to CloudWatch through the Amazon
   * CloudWatch agent. Off by default: CloudWatch bills each custom metric
   * (about USD 0.30 a month each, some 25 per node; see the README), and the
   * agent's SSM associations configure the agent on the nodes, which would
   * overwrite an agent configuration your own fleet tooling manages. A
   * node's boot files are written once: turning this on later means
   * replacing the nodes.
   * @default false
   */
  readonly enabled?: boolean;
  /**
   * The exporter's port on the node's address. The security group keeps it
   * closed unless `allowScrapeFrom` names sources.
   * @default 9121
   */
  readonly exporterPort?: number;
  /**
   * Sources that may scrape the exporter themselves (your own Prometheus):
   * one ingress rule per source on `exporterPort`.
   * @default - none: only the node's own CloudWatch agent scrapes it
   */
  readonly allowScrapeFrom?: RedisPeer[];
  /**
   * Days CloudWatch Logs keeps the group's logs (the Redis and Sentinel
   * logs and the metrics' EMF events): one of CloudWatch's values.
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * A customer managed KMS key (ARN) for the log group. Its key policy must
   * let `logs.<region>.amazonaws.com` use it (see the README).
   * @default - CloudWatch Logs' own encryption
   */
  readonly logKmsKeyArn?: string;
  /**
   * CloudWatch alarms on the group's metrics and EC2 status checks, each
   * one can be turned off or given other thresholds (see the README's
   * "Alarms and dashboard").
   * @default - the alarms of the README's table, with their defaults, and no actions
   */
  readonly alarms?: RedisAlarmsOptions;
  /**
   * One CloudWatch dashboard for the group ("redis-replication-<group path>").
   * @default true
   */
  readonly dashboard?: boolean;
}

export const DEFAULT_EXPORTER_PORT = 9121;
export const DEFAULT_LOG_RETENTION_DAYS = 30;
/** What CloudWatch Logs takes as retention_in_days (0 would be "never expire", which we do not offer). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** The monitoring of a group, with the defaults applied; undefined when it is off. */
export interface MonitoringSpec {
  readonly exporterPort: number;
  readonly allowScrapeFrom: readonly RedisPeer[];
  readonly logRetentionDays: number;
  readonly logKmsKeyArn?: string;
  /** Undefined when the alarms are off. */
  readonly alarms?: AlarmsSpec;
  readonly dashboard: boolean;
}

export function resolveMonitoring(options: RedisMonitoringOptions | undefined, alarms: AlarmsContext): MonitoringSpec | undefined {
  if (!(options?.enabled ?? false)) return undefined;
  return {
    exporterPort: options!.exporterPort ?? DEFAULT_EXPORTER_PORT,
    allowScrapeFrom: options!.allowScrapeFrom ?? [],
    logRetentionDays: options!.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS,
    logKmsKeyArn: options!.logKmsKeyArn,
    alarms: resolveAlarms(options!.alarms, alarms),
    dashboard: options!.dashboard ?? true,
  };
}

/** Every problem of `monitoring`, given the ports Redis and Sentinel listen on. */
export function validateMonitoringOptions(
  p: Problems,
  options: RedisMonitoringOptions | undefined,
  redisPort: number,
  sentinelPort: number,
  alarms: AlarmsContext,
): void {
  if (!options) return;
  if (options.enabled !== true) {
    for (const prop of ["exporterPort", "allowScrapeFrom", "logRetentionDays", "logKmsKeyArn", "alarms", "dashboard"] as const) {
      if (options[prop] !== undefined) p.add(`monitoring.${prop} is set, but monitoring.enabled is not true: set monitoring.enabled to true, or remove it`);
    }
    return;
  }
  requirePort(p, "monitoring.exporterPort", options.exporterPort);
  requireDistinctPorts(p, { "redis.port": redisPort, "sentinel.port": sentinelPort, "monitoring.exporterPort": options.exporterPort ?? DEFAULT_EXPORTER_PORT });
  const days = options.logRetentionDays;
  if (days !== undefined && !Token.isUnresolved(days) && !(LOG_RETENTION_DAYS as readonly number[]).includes(days)) {
    p.add(`monitoring.logRetentionDays must be one of CloudWatch Logs' values (${LOG_RETENTION_DAYS.join(", ")}), got ${days}`);
  }
  requirePattern(p, "monitoring.logKmsKeyArn", options.logKmsKeyArn, KMS_KEY_ARN, "expected a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab");
  validateAlarmsOptions(p, options.alarms, alarms);
}
