import { Token } from "cdktf";
import { Problems, requireInteger, requirePattern, SNS_TOPIC_ARN } from "../private/validation";

/** One alarm's settings; an alarm left out keeps its defaults (see the README's table). */
export interface RedisAlarmOptions {
  /**
   * Whether the alarm exists.
   * @default - true, except: `evictions` only under MaxMemoryPolicy.NOEVICTION,
   * `bgsaveFailed` only with RDB snapshots, `memory` only with a maxmemory
   * (not "0"), `sentinelMajority` only with Sentinel
   */
  readonly enabled?: boolean;
  /**
   * The threshold, in the alarm's unit. Alarms on a 0-or-1 metric
   * (`replicationLink`, `bgsaveFailed`, `statusCheck`) have none to change.
   * @default - the alarm's own (memory 80 percent, evictions 0 a minute,
   * replicaLag 10 seconds, rejectedConnections 0 a minute, sentinelMajority
   * a majority of the sentinels)
   */
  readonly threshold?: number;
  /**
   * Consecutive one-minute periods that must breach before the alarm fires
   * (all of them: datapoints to alarm = this).
   * @default - the alarm's own (memory 5, replicationLink 2, replicaLag 3,
   * sentinelMajority 2, statusCheck 2, the others 1)
   */
  readonly evaluationPeriods?: number;
}

/** CloudWatch alarms of a group, on the metrics `monitoring` publishes. */
export interface RedisAlarmsOptions {
  /**
   * Whether the group gets its alarms.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * An SNS topic (ARN) every alarm notifies when it fires and when it is OK again.
   * @default - no actions: the alarms change state on the dashboard only
   */
  readonly snsTopicArn?: string;
  /** A data node's memory used, in percent of its maxmemory. @default - on, above 80 for 5 minutes */
  readonly memory?: RedisAlarmOptions;
  /** Keys a data node evicted in a minute. @default - on under noeviction only, above 0 */
  readonly evictions?: RedisAlarmOptions;
  /** A replica's link to its master is down. @default - on, 2 minutes */
  readonly replicationLink?: RedisAlarmOptions;
  /** The largest replica lag (seconds since a replica's last acknowledgement, as the master sees it). @default - on, above 10 for 3 minutes */
  readonly replicaLag?: RedisAlarmOptions;
  /** Sentinels that see an ok master, fewer than the threshold. @default - on with Sentinel, fewer than a majority for 2 minutes */
  readonly sentinelMajority?: RedisAlarmOptions;
  /** Connections a data node refused (maxclients) in a minute. @default - on, above 0 */
  readonly rejectedConnections?: RedisAlarmOptions;
  /** A node's EC2 status checks (instance or system) failed. @default - on, 2 minutes */
  readonly statusCheck?: RedisAlarmOptions;
  /** A data node's last background save (BGSAVE) failed. @default - on with RDB snapshots, 1 minute */
  readonly bgsaveFailed?: RedisAlarmOptions;
}

export type RedisAlarmKind = Exclude<keyof RedisAlarmsOptions, "enabled" | "snsTopicArn">;

/** What CloudWatch does with a minute without data. */
export type MissingData = "missing" | "notBreaching" | "breaching";

/** The alarm choices: a threshold, how long, and what a missing data point means. */
export interface AlarmChoice {
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly comparison: "GreaterThanThreshold" | "GreaterThanOrEqualToThreshold" | "LessThanThreshold";
  readonly treatMissingData: MissingData;
}

/** What the group's other props say about its alarms. */
export interface AlarmsContext {
  readonly maxMemoryPolicy: string;
  /** `save` is not "". */
  readonly rdbSnapshots: boolean;
  /** maxmemory is "0" (no limit): used / max has no meaning. */
  readonly unlimitedMemory: boolean;
  /** 0 when Sentinel is off. */
  readonly sentinelCount: number;
}

interface AlarmDefinition extends Omit<AlarmChoice, "threshold"> {
  readonly threshold: (c: AlarmsContext) => number;
  /** The thresholds a user may set; none: a 0-or-1 metric, whose threshold is fixed. */
  readonly range?: { readonly min: number; readonly minExclusive?: boolean; readonly max: (c: AlarmsContext) => number; readonly integer?: boolean; readonly unit: string };
  readonly enabledByDefault: (c: AlarmsContext) => boolean;
  /** Why it cannot be on, when it cannot. */
  readonly unavailable?: (c: AlarmsContext) => string | undefined;
}

/** More than half of the sentinels. */
export const sentinelMajorityOf = (sentinelCount: number) => Math.floor(sentinelCount / 2) + 1;
const always = () => true;

/** The defaults, documented in the README's "Alarms and dashboard" table. */
export const ALARM_DEFINITIONS: Readonly<Record<RedisAlarmKind, AlarmDefinition>> = {
  memory: {
    threshold: () => 80,
    range: { min: 0, minExclusive: true, max: () => 100, unit: "percent of maxmemory" },
    evaluationPeriods: 5,
    comparison: "GreaterThanThreshold",
    treatMissingData: "missing",
    enabledByDefault: (c) => !c.unlimitedMemory,
    unavailable: (c) => (c.unlimitedMemory ? 'redis.maxMemory is "0" (no limit): there is no maxmemory to hold the memory used against' : undefined),
  },
  evictions: {
    threshold: () => 0,
    range: { min: 0, max: () => Number.MAX_SAFE_INTEGER, unit: "keys a minute" },
    evaluationPeriods: 1,
    comparison: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
    enabledByDefault: (c) => c.maxMemoryPolicy === "noeviction",
  },
  replicationLink: { threshold: () => 1, evaluationPeriods: 2, comparison: "LessThanThreshold", treatMissingData: "notBreaching", enabledByDefault: always },
  replicaLag: {
    threshold: () => 10,
    range: { min: 0, minExclusive: true, max: () => 86400, unit: "seconds" },
    evaluationPeriods: 3,
    comparison: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
    enabledByDefault: always,
  },
  sentinelMajority: {
    threshold: (c) => sentinelMajorityOf(c.sentinelCount),
    range: { min: 1, max: (c) => c.sentinelCount, integer: true, unit: "sentinels" },
    evaluationPeriods: 2,
    comparison: "LessThanThreshold",
    treatMissingData: "breaching",
    enabledByDefault: (c) => c.sentinelCount > 0,
    unavailable: (c) => (c.sentinelCount === 0 ? "sentinel.enabled is false: no sentinel reports a master" : undefined),
  },
  rejectedConnections: {
    threshold: () => 0,
    range: { min: 0, max: () => Number.MAX_SAFE_INTEGER, unit: "connections a minute" },
    evaluationPeriods: 1,
    comparison: "GreaterThanThreshold",
    treatMissingData: "notBreaching",
    enabledByDefault: always,
  },
  statusCheck: { threshold: () => 1, evaluationPeriods: 2, comparison: "GreaterThanOrEqualToThreshold", treatMissingData: "breaching", enabledByDefault: always },
  bgsaveFailed: {
    threshold: () => 1,
    evaluationPeriods: 1,
    comparison: "LessThanThreshold",
    treatMissingData: "missing",
    enabledByDefault: (c) => c.rdbSnapshots,
    unavailable: (c) => (c.rdbSnapshots ? undefined : 'redis.snapshotSchedule is "" (no RDB snapshots): there is no background save to fail'),
  },
};

export const ALARM_KINDS = Object.keys(ALARM_DEFINITIONS) as RedisAlarmKind[];
/** Metrics Insights alarms read at most the last 3 hours: 180 one-minute periods. */
export const MAX_EVALUATION_PERIODS = 180;

/** The alarms of a group, with the defaults applied: only those that exist. */
export interface AlarmsSpec {
  readonly snsTopicArn?: string;
  readonly alarms: Partial<Record<RedisAlarmKind, AlarmChoice>>;
}

export function resolveAlarms(options: RedisAlarmsOptions | undefined, c: AlarmsContext): AlarmsSpec | undefined {
  if (options?.enabled === false) return undefined;
  const alarms: Partial<Record<RedisAlarmKind, AlarmChoice>> = {};
  for (const kind of ALARM_KINDS) {
    const d = ALARM_DEFINITIONS[kind];
    const o = options?.[kind];
    if (!(o?.enabled ?? d.enabledByDefault(c))) continue;
    alarms[kind] = {
      threshold: o?.threshold ?? d.threshold(c),
      evaluationPeriods: o?.evaluationPeriods ?? d.evaluationPeriods,
      comparison: d.comparison,
      treatMissingData: d.treatMissingData,
    };
  }
  return { snsTopicArn: options?.snsTopicArn, alarms };
}

/** Every problem of `monitoring.alarms` (monitoring itself is on). */
export function validateAlarmsOptions(p: Problems, options: RedisAlarmsOptions | undefined, c: AlarmsContext): void {
  if (!options) return;
  const prefix = "monitoring.alarms";
  if (options.enabled === false) {
    for (const prop of ["snsTopicArn", ...ALARM_KINDS] as const) {
      if (options[prop] !== undefined) p.add(`${prefix}.${prop} is set, but ${prefix}.enabled is false: remove one of them`);
    }
    return;
  }
  requirePattern(p, `${prefix}.snsTopicArn`, options.snsTopicArn, SNS_TOPIC_ARN, "expected an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:redis-alarms");
  for (const kind of ALARM_KINDS) {
    const o = options[kind];
    if (!o) continue;
    const d = ALARM_DEFINITIONS[kind];
    const why = d.unavailable?.(c);
    if (o.enabled === true && why) p.add(`${prefix}.${kind}.enabled is true, but ${why}`);
    requireInteger(p, `${prefix}.${kind}.evaluationPeriods`, o.evaluationPeriods, 1, MAX_EVALUATION_PERIODS);
    const t = o.threshold;
    if (t === undefined || Token.isUnresolved(t)) continue;
    if (!d.range) {
      p.add(`${prefix}.${kind}.threshold cannot be set: the metric is 0 or 1 and the alarm fires at ${d.threshold(c)} (${d.comparison}); turn the alarm off with enabled: false instead`);
      continue;
    }
    const { min, minExclusive, integer, unit } = d.range;
    const max = d.range.max(c);
    const below = minExclusive ? t <= min : t < min;
    if (below || t > max || (integer && !Number.isInteger(t)) || !Number.isFinite(t)) {
      const from = minExclusive ? `above ${min}` : `from ${min}`;
      p.add(`${prefix}.${kind}.threshold must be ${integer ? "a whole number" : "a number"} ${from} to ${max} (${unit}), got ${t}`);
    }
  }
}
