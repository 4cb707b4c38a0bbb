import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Construct } from "constructs";
import { SecretStore } from "./config/cloud-config";
import { RedisPasswordBinding } from "./redis-password";

export interface RedisNodeRoleProps {
  /** The one secret the nodes may read. */
  readonly password: RedisPasswordBinding;
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
}

/**
 * Instance role and profile of Redis nodes: SSM Session Manager (no SSH
 * keys), and read access to exactly the Redis password, nothing else.
 */
export class RedisNodeRole extends Construct {
  /** @attribute */
  public readonly instanceProfileName: string;
  /** @attribute */
  public readonly roleArn: string;
  /** @attribute */
  public readonly roleName: string;

  constructor(scope: Construct, id: string, props: RedisNodeRoleProps) {
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
    const action = props.password.store === SecretStore.SSM ? "ssm:GetParameter" : "secretsmanager:GetSecretValue";
    const statements: object[] = [{ Effect: "Allow", Action: [action], Resource: props.password.secretArn }];
    if (props.password.kmsKeyArn) {
      statements.push({ Effect: "Allow", Action: ["kms:Decrypt"], Resource: props.password.kmsKeyArn });
    }
    new IamRolePolicy(this, "read-password", {
      role: role.id,
      policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }),
    });
    const profile = new IamInstanceProfile(this, "profile", { role: role.name, tags: props.tags });
    this.instanceProfileName = profile.name;
    this.roleArn = role.arn;
    this.roleName = role.name;
  }
}
