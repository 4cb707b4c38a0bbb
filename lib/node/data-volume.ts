import { DataAwsEc2InstanceType } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type";
import { DataAwsSubnet } from "@cdktf/provider-aws/lib/data-aws-subnet";
import { EbsVolume } from "@cdktf/provider-aws/lib/ebs-volume";
import { VolumeAttachment } from "@cdktf/provider-aws/lib/volume-attachment";
import { Fn, Op, Precondition, Token } from "cdktf";
import { Construct } from "constructs";
import { stableKeyOf } from "../private/stable-key";
import { EbsVolumeSpec, literalMaxMemoryMiB } from "./data-volume-options";
import { defaultMaxMemoryMiB } from "./machine-image";

/** The API's name for the attachment; the boot finds the disk by its serial, never by this name. */
const DEVICE_NAME = "/dev/sdf";

/**
 * The most a node's dataset can take, in MiB, as Terraform computes it at
 * plan (the default maxmemory, or the instance's memory with "0"), and what
 * it stands for in the error message.
 */
export interface DatasetLimit {
  readonly mib: number;
  readonly what: string;
}

/** An instance type's name and its lookup. */
export interface InstanceTypeRef {
  readonly name: string;
  readonly lookup: DataAwsEc2InstanceType;
}

/**
 * What Terraform checks the disk size against at plan: the default
 * maxmemory, or the whole memory with maxmemory "0"; a literal maxmemory
 * only when synth could not check it (an EBS size token, or the instance
 * store, whose size the type sets). Nothing for a maxmemory token.
 */
export function datasetLimitOf(maxMemory: string | undefined, sizeKnownAtSynth: boolean, type: InstanceTypeRef): DatasetLimit | undefined {
  if (maxMemory === undefined) return { mib: defaultMaxMemoryMiB(type.lookup), what: `maxmemory (70% of the memory of ${type.name})` };
  const mib = literalMaxMemoryMiB(maxMemory);
  if (mib === 0) return { mib: type.lookup.memorySize, what: `the memory of ${type.name} (maxmemory 0: no limit)` };
  return mib !== undefined && !sizeKnownAtSynth ? { mib, what: `maxmemory ${maxMemory}` } : undefined;
}

/** Bytes per MiB, and per GB (instance store sizes are decimal). */
const MIB = 1024 ** 2;
const GB = 1000 ** 3;

/**
 * What Terraform checks at plan for data nodes on the instance store: the
 * type has one, it is a Nitro type (whose NVMe disks show the serial the
 * boot finds the disk by), and its first disk (the one the boot uses) holds
 * the dataset twice.
 */
export function instanceStorePreconditions(type: InstanceTypeRef, limit: DatasetLimit | undefined): Precondition[] {
  const { name, lookup } = type;
  const checks: Precondition[] = [
    {
      condition: Op.and(Op.eq(lookup.instanceStorageSupported, true), Op.neq(lookup.hypervisor, "xen")),
      errorMessage:
        `${name} has no instance store the boot can use (dataVolume.instanceStore needs a Nitro type with local NVMe disks: i4i, r6id, m6id, m6gd, c6gd, ...). ` +
        "Use such a type, or an EBS data volume (leave dataVolume.instanceStore unset).",
    },
  ];
  if (limit) {
    const firstDiskGB = Fn.try([lookup.instanceDisks.get(0).size, 0]);
    checks.push({
      condition: Op.gte(Op.mul(firstDiskGB, GB), Op.mul(2 * MIB, limit.mib)),
      errorMessage:
        `The instance store of ${name} (${Token.asString(firstDiskGB)} GB in its first disk) cannot hold 2 x ${limit.what}: ` +
        "BGSAVE and AOF rewrites write the new file before they remove the old one. Use a type with a larger instance store, or a smaller redis.maxMemory.",
    });
  }
  return checks;
}

export interface RedisDataVolumeProps {
  readonly spec: EbsVolumeSpec;
  /** From the node's subnet, never from the instance: known at plan, unchanged when the instance is replaced. */
  readonly availabilityZone: string;
  readonly tags: { [key: string]: string };
  /** The data nodes' instance type (read at plan: Xen types show no NVMe serial). */
  readonly instanceType: InstanceTypeRef;
  /** Checked at plan against the size; undefined when synth checked it or nothing can be known. */
  readonly datasetLimit?: DatasetLimit;
}

/**
 * A data node's encrypted gp3 volume. It does not depend on the instance: a
 * replaced instance gets a new attachment of the same volume, and Terraform
 * stops the old instance (Redis saves, the file system is unmounted) before
 * it detaches the volume.
 */
export class RedisDataVolume extends Construct {
  public readonly volumeId: string;
  private readonly props: RedisDataVolumeProps;

  constructor(scope: Construct, id: string, props: RedisDataVolumeProps) {
    super(scope, id);
    this.props = props;
    const { spec, datasetLimit } = props;
    const size = spec.sizeGiB;
    const precondition: Precondition[] = datasetLimit
      ? [
          {
            condition: Op.gte(Token.isUnresolved(size) ? Op.mul(size, 1024) : size * 1024, Op.mul(2, datasetLimit.mib)),
            errorMessage:
              `The data volume of ${scope.node.path} (${Token.isUnresolved(size) ? "dataVolume.sizeGiB" : `${size} GiB`}) cannot hold 2 x ${datasetLimit.what}: ` +
              "BGSAVE and AOF rewrites write the new file before they remove the old one. Set dataVolume.sizeGiB to at least that, or a smaller redis.maxMemory.",
          },
        ]
      : [];
    const volume = new EbsVolume(this, "ebs", {
      availabilityZone: props.availabilityZone,
      type: "gp3",
      size,
      iops: spec.iops,
      throughput: spec.throughputMiBps,
      encrypted: true,
      kmsKeyId: spec.kmsKeyArn,
      tags: props.tags,
      lifecycle: { preventDestroy: spec.preventDestroy, ...(precondition.length > 0 ? { precondition } : {}) },
    });
    this.volumeId = volume.id;
  }

  /** Attaches the volume to the node's instance. */
  public attachTo(instanceId: string): VolumeAttachment {
    const { name, lookup } = this.props.instanceType;
    return new VolumeAttachment(this, "attachment", {
      deviceName: DEVICE_NAME,
      volumeId: this.volumeId,
      instanceId,
      // Destroyed when the instance is replaced: a clean shutdown (Redis
      // saves, the file system is unmounted) before the volume leaves.
      stopInstanceBeforeDetaching: true,
      lifecycle: {
        precondition: [
          {
            condition: Op.neq(lookup.hypervisor, "xen"),
            errorMessage: `${name} is a Xen instance type: it shows EBS volumes without the NVMe serial the boot finds the data volume by. Use a Nitro type (t3, m5, r6g and later) or dataVolume.enabled false.`,
          },
        ],
      },
    });
  }
}

/** The availability zone of each subnet, one data aws_subnet per distinct subnet. */
export class SubnetZones {
  private readonly zones = new Map<string, string>();

  constructor(private readonly scope: Construct) {}

  public of(subnetId: string): string {
    const key = stableKeyOf(this.scope, subnetId);
    let zone = this.zones.get(key);
    if (zone === undefined) {
      zone = new DataAwsSubnet(this.scope, `zone-of-${key}`, { id: subnetId }).availabilityZone;
      this.zones.set(key, zone);
    }
    return zone;
  }
}
