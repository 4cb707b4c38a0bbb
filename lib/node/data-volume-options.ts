import { Token } from "cdktf";
import { parseMemorySize } from "../boot/render/values";
import { Problems, requireInteger, requirePattern } from "../private/validation";

/**
 * The EBS volume of each data node (master and replicas), where Redis keeps
 * its RDB snapshot and append-only file. It lives apart from the instance: a
 * replaced instance gets the same volume back, and the node resumes with its
 * data. Or, with `instanceStore`, the instance type's local NVMe disk.
 */
export interface RedisDataVolumeOptions {
  /**
   * One gp3 volume per data node. Off, the data stays on the root volume,
   * which is deleted with the instance.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Keep the data on the instance type's own NVMe disk (instance store:
   * i4i, r6id, m6gd, ...) instead of an EBS volume: lower latency, no EBS
   * charge, but the disk is **blank after every stop and start**, an
   * instance replacement or a host failure. The node then
   * starts empty, as a replica of the current master, and copies the whole
   * dataset (a full resync); a reboot keeps the data. Every data node
   * stopped at once loses the dataset. The size, IOPS, throughput, KMS and
   * preventDestroy props do not apply (the disk is encrypted by the
   * hardware). Terraform checks at plan that the type is a Nitro type with
   * an instance store that holds the dataset twice.
   * @default false
   */
  readonly instanceStore?: boolean;
  /**
   * Size in GiB. It must hold the dataset twice: BGSAVE and AOF rewrites
   * write the new file before they remove the old one. Synth checks it
   * against a literal `redis.maxMemory`; against the default maxmemory (70%
   * of the instance type's memory) a Terraform precondition checks it at
   * plan.
   * @default 20
   */
  readonly sizeGiB?: number;
  /**
   * Provisioned IOPS (gp3: 3000-16000; above 3000, at most 500 per GiB).
   * @default 3000 (gp3's baseline, included in its price)
   */
  readonly iops?: number;
  /**
   * Provisioned throughput in MiB/s (gp3: 125-1000, at most iops / 4).
   * @default 125 (gp3's baseline, included in its price)
   */
  readonly throughputMiBps?: number;
  /**
   * ARN of the KMS key that encrypts the volumes (they are always
   * encrypted). A key ARN, not an alias: EBS records the key's own ARN.
   * @default - the account's AWS managed key for EBS (aws/ebs)
   */
  readonly kmsKeyArn?: string;
  /**
   * Terraform's `prevent_destroy` on the volumes: a plan that would delete
   * one (`cdktf destroy`, a changed availability zone or KMS key) fails
   * instead of deleting the data. Set it to false before you destroy the
   * group on purpose.
   * @default true
   */
  readonly preventDestroy?: boolean;
}

/** Where a data node keeps its data, with the defaults applied: an EBS volume or the instance store. */
export type DataVolumeSpec = EbsVolumeSpec | InstanceStoreSpec;

/** A data node's EBS volume, with the defaults applied. */
export interface EbsVolumeSpec {
  readonly kind: "ebs";
  readonly sizeGiB: number;
  readonly iops: number;
  readonly throughputMiBps: number;
  readonly kmsKeyArn?: string;
  readonly preventDestroy: boolean;
}

export const DEFAULT_DATA_VOLUME_GIB = 20;
/** gp3's limits and baseline (what its price includes). */
export const GP3 = { maxGiB: 16384, baselineIops: 3000, maxIops: 16000, iopsPerGiB: 500, baselineMiBps: 125, maxMiBps: 1000, miBpsPerIops: 0.25 } as const;

const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const GIB = 1024 ** 3;

/** The instance type's local NVMe disk. */
export interface InstanceStoreSpec {
  readonly kind: "instance-store";
}

/** The props an EBS volume has and the instance store has not. */
const EBS_PROPS = ["sizeGiB", "iops", "throughputMiBps", "kmsKeyArn", "preventDestroy"] as const;

/** The volume spec, or undefined when the data nodes keep their data on the root volume. */
export function resolveDataVolume(o: RedisDataVolumeOptions = {}): DataVolumeSpec | undefined {
  if (o.enabled === false) return undefined;
  if (o.instanceStore === true) return { kind: "instance-store" };
  return {
    kind: "ebs",
    sizeGiB: o.sizeGiB ?? DEFAULT_DATA_VOLUME_GIB,
    iops: o.iops ?? GP3.baselineIops,
    throughputMiBps: o.throughputMiBps ?? GP3.baselineMiBps,
    kmsKeyArn: o.kmsKeyArn,
    preventDestroy: o.preventDestroy ?? true,
  };
}

const literal = (value: number | undefined): value is number => value !== undefined && !Token.isUnresolved(value);

/**
 * gp3's limits, and whether the volume holds a literal maxmemory twice.
 * A maxmemory of "0" (no limit), the default or a token is checked at plan.
 */
export function validateDataVolumeOptions(p: Problems, o: RedisDataVolumeOptions = {}, maxMemory?: string): void {
  const unused = (props: readonly (keyof RedisDataVolumeOptions)[], because: string) => {
    const set = props.filter((k) => o[k] !== undefined);
    if (set.length > 0) p.add(`dataVolume.${set.join(", dataVolume.")} has no effect with ${because}`);
  };
  if (o.enabled === false) return unused([...EBS_PROPS, "instanceStore"], "dataVolume.enabled false");
  if (o.instanceStore !== undefined && typeof o.instanceStore !== "boolean") p.add(`dataVolume.instanceStore must be true or false, got ${JSON.stringify(o.instanceStore)}`);
  const spec = resolveDataVolume(o)!;
  if (spec.kind === "instance-store") return unused(EBS_PROPS, "dataVolume.instanceStore (the instance type sets the disk's size and speed)");
  requireInteger(p, "dataVolume.sizeGiB", o.sizeGiB, 1, GP3.maxGiB);
  requireInteger(p, "dataVolume.iops", o.iops, GP3.baselineIops, GP3.maxIops);
  requireInteger(p, "dataVolume.throughputMiBps", o.throughputMiBps, GP3.baselineMiBps, GP3.maxMiBps);
  requirePattern(p, "dataVolume.kmsKeyArn", o.kmsKeyArn, KMS_KEY_ARN, "expected a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (an alias would read as a change on every plan)");
  const { sizeGiB, iops, throughputMiBps } = spec;
  if (literal(sizeGiB) && literal(iops) && iops > GP3.baselineIops && iops > sizeGiB * GP3.iopsPerGiB) {
    p.add(`dataVolume.iops ${iops} needs a volume of at least ${Math.ceil(iops / GP3.iopsPerGiB)} GiB (gp3: at most ${GP3.iopsPerGiB} IOPS per GiB above ${GP3.baselineIops}), got sizeGiB ${sizeGiB}`);
  }
  if (literal(iops) && literal(throughputMiBps) && throughputMiBps > iops * GP3.miBpsPerIops) {
    p.add(`dataVolume.throughputMiBps ${throughputMiBps} needs at least ${Math.ceil(throughputMiBps / GP3.miBpsPerIops)} IOPS (gp3: at most ${GP3.miBpsPerIops} MiB/s per IOPS), got iops ${iops}`);
  }
  const bytes = maxMemory === undefined || Token.isUnresolved(maxMemory) ? undefined : parseMemorySize(maxMemory);
  if (literal(sizeGiB) && bytes !== undefined && bytes > 0 && 2 * bytes > sizeGiB * GIB) {
    p.add(
      `dataVolume.sizeGiB ${sizeGiB} cannot hold redis.maxMemory "${maxMemory}" twice (BGSAVE and AOF rewrites write the new file before they remove the old one): ` +
        `use at least ${Math.ceil((2 * bytes) / GIB)}, or a smaller maxMemory`,
    );
  }
}

/** A literal maxmemory in MiB, when synth could not check it (the size is a token): for the plan-time check. */
export function literalMaxMemoryMiB(maxMemory: string | undefined): number | undefined {
  const bytes = maxMemory === undefined || Token.isUnresolved(maxMemory) ? undefined : parseMemorySize(maxMemory);
  return bytes === undefined ? undefined : Math.ceil(bytes / 1024 ** 2);
}
