import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import { stableKeyOf } from "../private/stable-key";
import { policyDocument, RedisPolicyStatement } from "./policy-statement";

/**
 * An inline policy with `statements` on an IAM role (by name), under `scope`
 * and named after the role: granting the same role again is a no-op, and
 * removing one grant leaves the others' Terraform addresses alone.
 */
export function grantToRole(scope: Construct, idPrefix: string, roleName: string, statements: readonly RedisPolicyStatement[]): void {
  const id = `${idPrefix}-${stableKeyOf(scope, roleName)}`;
  if (scope.node.tryFindChild(id)) return;
  new IamRolePolicy(scope, id, { role: roleName, policy: policyDocument(statements) });
}
