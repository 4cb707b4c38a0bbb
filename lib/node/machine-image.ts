import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { DataAwsEc2InstanceType } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type";
import { Fn, Op, Token } from "cdktf";
import { Construct } from "constructs";
import { CpuArchitecture } from "../private/architecture";

/** Canonical's AWS account, owner of the official Ubuntu images. */
const CANONICAL_OWNER_ID = "099720109477";

/** Share of the instance memory given to maxmemory by default. */
const DEFAULT_MAXMEMORY_SHARE = 0.7;

/** Looks up the newest Ubuntu 24.04 LTS image (its apt Redis is 7.0.x). */
export function lookupUbuntuAmi(scope: Construct, id: string, architecture: CpuArchitecture): string {
  return new DataAwsAmi(scope, id, {
    owners: [CANONICAL_OWNER_ID],
    mostRecent: true,
    filter: [
      { name: "name", values: [`ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${architecture}-server-*`] },
      { name: "virtualization-type", values: ["hvm"] },
    ],
  }).id;
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
