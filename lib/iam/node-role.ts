import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { policyDocument, RedisPolicyStatement, statementJson } from "./policy-statement";

/** AmazonSSMManagedInstanceCore's actions (Session Manager, associations, inventory) without reading parameters. */
export const SESSION_MANAGER_ACTIONS = [
  "ssm:DescribeAssociation",
  "ssm:GetDeployablePatchSnapshotForInstance",
  "ssm:GetDocument",
  "ssm:DescribeDocument",
  "ssm:GetManifest",
  "ssm:ListAssociations",
  "ssm:ListInstanceAssociations",
  "ssm:PutInventory",
  "ssm:PutComplianceItems",
  "ssm:PutConfigurePackageResult",
  "ssm:UpdateAssociationStatus",
  "ssm:UpdateInstanceAssociationStatus",
  "ssm:UpdateInstanceInformation",
  "ssmmessages:CreateControlChannel",
  "ssmmessages:CreateDataChannel",
  "ssmmessages:OpenControlChannel",
  "ssmmessages:OpenDataChannel",
  "ec2messages:AcknowledgeMessage",
  "ec2messages:DeleteMessage",
  "ec2messages:FailMessage",
  "ec2messages:GetEndpoint",
  "ec2messages:GetMessages",
  "ec2messages:SendReply",
];

export interface RedisNodeRoleProps {
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
}

/**
 * Instance role and profile of the Redis nodes: SSM Session Manager (no SSH
 * keys) without access to Parameter Store, plus exactly the statements the
 * nodes' boot parts add (the reads of the secrets they need) and those a user
 * adds with `addToPolicy`.
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
    const role = new IamRole(this, "role", {
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags: props.tags,
    });
    // What AmazonSSMManagedInstanceCore allows, but ssm:GetParameter(s) on
    // every parameter: with it, a node could read any secret of the account.
    new IamRolePolicy(this, "session-manager", {
      role: role.id,
      policy: policyDocument([{ actions: SESSION_MANAGER_ACTIONS, resources: ["*"] }]),
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
