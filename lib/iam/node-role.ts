import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { policyDocument, RedisPolicyStatement, statementJson } from "./policy-statement";

export interface RedisNodeRoleProps {
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
}

/**
 * Instance role and profile of the Redis nodes: SSM Session Manager (no SSH
 * keys), plus exactly the statements the nodes' boot parts add (the read of
 * the Redis password) and those a user adds with `addToPolicy`.
 */
export class RedisNodeRole extends Construct {
  /** @attribute */
  public readonly instanceProfileName: string;
  /** @attribute */
  public readonly roleArn: string;
  /** @attribute */
  public readonly roleName: string;
  private readonly statements = new Map<string, RedisPolicyStatement>();

  constructor(scope: Construct, id: string, props: RedisNodeRoleProps = {}) {
    super(scope, id);
    const partition = new DataAwsPartition(this, "partition");
    const role = new IamRole(this, "role", {
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags: props.tags,
    });
    new IamRolePolicyAttachment(this, "ssm-core", {
      role: role.name,
      policyArn: `arn:${partition.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
    });
    // Rendered at synth, so statements added after construction (by boot
    // parts of nodes built later, or by the user) land in the one policy.
    new IamRolePolicy(this, "read-password", {
      role: role.id,
      policy: Lazy.stringValue({ produce: () => policyDocument([...this.statements.values()]) }),
    });
    const profile = new IamInstanceProfile(this, "profile", { role: role.name, tags: props.tags });
    this.instanceProfileName = profile.name;
    this.roleArn = role.arn;
    this.roleName = role.name;
  }

  /** Adds a statement to the nodes' inline policy; adding the same statement again is a no-op. */
  public addToPolicy(statement: RedisPolicyStatement): void {
    const key = JSON.stringify(statementJson(statement));
    if (!this.statements.has(key)) this.statements.set(key, statement);
  }
}
