import { Instance } from "@cdktf/provider-aws/lib/instance";
import { Op } from "cdktf";
import { Construct } from "constructs";
import { TerraformCheck } from "../private/terraform-check";

/** A node's instance, and the instance type its props now give it. */
export interface InstanceTypeOf {
  /** Construct path of the node, for the warning. */
  readonly node: string;
  readonly instance: Instance;
  /** The configured type (a literal or a token). */
  readonly instanceType: string;
  /** The prop that sets it: "instanceType", "sentinel.dedicatedInstanceType". */
  readonly prop: string;
}

/** The resource address `terraform apply -replace=` takes for an instance. */
export function instanceAddress(instance: Instance): string {
  return `aws_instance.${instance.friendlyUniqueId}`;
}

/**
 * Running instances ignore a changed instance type (an in-place change would
 * stop and start every node at once); a replaced instance gets the new one.
 * This check warns at every plan, per node, while a node still runs another
 * type than its prop says, and names the command that replaces it. With
 * `ignore_changes`, the plan keeps the type of the running instance (Terraform
 * refreshes it from EC2), so the condition compares that with the prop.
 */
export function addInstanceTypeCheck(scope: Construct, id: string, nodes: readonly InstanceTypeOf[]): TerraformCheck {
  return new TerraformCheck(
    scope,
    id,
    nodes.map(({ node, instance, instanceType, prop }) => {
      const address = instanceAddress(instance);
      return {
        condition: Op.eq(instance.instanceType, instanceType),
        errorMessage:
          `${node} (${address}, \${${address}.id}) runs \${${address}.instance_type}; ${prop} is now ${instanceType}. ` +
          "Running nodes keep their instance type (an apply never stops them): the new type, its maxmemory and an image of its architecture " +
          "come with a replaced instance. Replace the nodes one at a time, replicas first and the current master last, each only when " +
          `redis-node-restart --check on the next node says it may restart: terraform apply -replace=${address} ` +
          '(README: "What each prop change does to running nodes").',
      };
    }),
  );
}
