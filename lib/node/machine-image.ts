import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { DataAwsEc2InstanceType } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type";
import { Fn, Op, Precondition, Token } from "cdktf";
import { Construct } from "constructs";
import { CpuArchitecture } from "../private/architecture";

/** The Debian project's AWS account, owner of the official Debian 12 images (https://wiki.debian.org/Cloud/AmazonEC2Image). */
const DEBIAN_OWNER_ID = "136693071363";

/** Share of the instance memory given to maxmemory by default. */
const DEFAULT_MAXMEMORY_SHARE = 0.7;

/**
 * Looks up the newest official Debian 12 (bookworm) image: its Redis 7.0 is
 * in main, with security updates from Debian's security archive without a
 * subscription (Ubuntu 24.04's redis is in universe: security updates with
 * Ubuntu Pro only). Not the backports images (`debian-12-backports-*`).
 */
export function lookupDebianAmi(scope: Construct, id: string, architecture: CpuArchitecture): string {
  return new DataAwsAmi(scope, id, {
    owners: [DEBIAN_OWNER_ID],
    mostRecent: true,
    filter: [
      { name: "name", values: [`debian-12-${architecture}-*`] },
      { name: "virtualization-type", values: ["hvm"] },
    ],
  }).id;
}

/**
 * Reads a given image at plan, for its architecture. By id alone: the id is
 * unique in the region, and owners would exclude images shared from other
 * accounts or from the Marketplace, which EC2 launches. Deprecated images too:
 * EC2 launches them by id, but DescribeImages leaves them out by default.
 */
export function lookupImage(scope: Construct, id: string, amiId: string): DataAwsAmi {
  return new DataAwsAmi(scope, id, {
    filter: [{ name: "image-id", values: [amiId] }],
    includeDeprecated: true,
  });
}

/** A node whose given image Terraform checks against its instance type. */
export interface ImageArchitectureCheck {
  /** Construct path of the node, for the message. */
  readonly node: string;
  /** The given image id (a literal or a token). */
  readonly amiId: string;
  /** The image's `architecture` (x86_64, arm64, ...), as a Terraform expression. */
  readonly imageArchitecture: string;
  /** The instance type's name (a literal or a token). */
  readonly instanceType: string;
  /** The type's `supported_architectures`, as a Terraform expression. */
  readonly typeArchitectures: string[];
  /** The prop that gives the image: "amiId", "sentinel.dedicatedAmiId". */
  readonly prop: string;
  /** When the node inherits the image: the prop that gives it its own ("sentinel.dedicatedAmiId"). */
  readonly overrideProp?: string;
}

/**
 * A lifecycle precondition of the node's instance: its image's architecture
 * is one its instance type runs. Terraform evaluates it at plan, before it
 * changes anything (at apply, before the create, when the image id is known
 * only then); EC2 would otherwise refuse the launch in the middle of a
 * replacement.
 */
export function imageArchitecturePrecondition(check: ImageArchitectureCheck): Precondition {
  const { node, amiId, imageArchitecture, instanceType, typeArchitectures, prop, overrideProp } = check;
  const fix = overrideProp
    ? `Set ${overrideProp} to an image built for one of those (these nodes take ${prop} while their type's name suggests the data nodes' architecture).`
    : `Set ${prop} to an image built for one of those, or leave it unset to get the default image of the type's architecture.`;
  return {
    condition: Fn.contains(typeArchitectures, imageArchitecture),
    errorMessage:
      `${node}: its image ${amiId} (${prop}) is built for ${imageArchitecture}, but its instance type ${instanceType} runs only ` +
      `${Token.asString(Fn.join(", ", typeArchitectures))}: EC2 would refuse to launch it. ${fix}`,
  };
}

/** An instance type as Terraform reads it at plan: its memory, its hypervisor. */
export function lookupInstanceType(scope: Construct, id: string, instanceType: string): DataAwsEc2InstanceType {
  return new DataAwsEc2InstanceType(scope, id, { instanceType });
}

/** The default maxmemory of an instance type in MiB, as a Terraform expression. */
export function defaultMaxMemoryMiB(type: DataAwsEc2InstanceType): number {
  return Fn.floor(Op.mul(type.memorySize, DEFAULT_MAXMEMORY_SHARE));
}

/** The default maxmemory for an instance type, as a Terraform expression. */
export function defaultMaxMemory(type: DataAwsEc2InstanceType): string {
  return `${Token.asString(defaultMaxMemoryMiB(type))}mb`;
}
