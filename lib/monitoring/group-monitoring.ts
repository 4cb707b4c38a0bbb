import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { SsmAssociation } from "@cdktf/provider-aws/lib/ssm-association";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { Construct, IConstruct } from "constructs";
import { renderCloudWatchAgentConfig } from "../boot/render/metrics";
import { awsNameOf, parameterNameOf } from "../private/parameter-name";
import { MonitoringSpec } from "./monitoring-options";

/** The group's log group: "/redis-replication/<group path>" in CloudWatch Logs' alphabet. */
export function logGroupNameOf(group: IConstruct): string {
  return `/redis-replication/${group.node.path.replace(/[^A-Za-z0-9_./#-]/g, "-")}`;
}

export interface RedisGroupMonitoringProps {
  readonly spec: MonitoringSpec;
  /** The tag every node of the group carries: the associations target the nodes by it. */
  readonly nodeTag: { readonly key: string; readonly value: string };
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
}

/**
 * The CloudWatch side of a group's monitoring, as AWS documents it for EC2:
 * a log group (retention, optional KMS key), the agent's configuration in
 * an SSM parameter, a State Manager association that installs the agent
 * (AWS-ConfigureAWSPackage, package AmazonCloudWatchAgent) and one that
 * configures and starts it from that parameter (AmazonCloudWatch-ManageAgent),
 * both on every instance with the group's tag.
 */
export class RedisGroupMonitoring extends Construct {
  public readonly logGroupName: string;
  public readonly logGroupArn: string;
  /** The SSM parameter with the agent's configuration. */
  public readonly agentConfigParameterName: string;
  public readonly agentConfigParameterArn: string;

  constructor(scope: Construct, id: string, props: RedisGroupMonitoringProps) {
    super(scope, id);
    const logGroup = new CloudwatchLogGroup(this, "log-group", {
      name: logGroupNameOf(scope),
      retentionInDays: props.spec.logRetentionDays,
      kmsKeyId: props.spec.logKmsKeyArn,
      tags: props.tags,
    });
    this.logGroupName = logGroup.name;
    this.logGroupArn = logGroup.arn;
    // A standard parameter (no charge): the configuration stays under its 4 KB.
    const config = new SsmParameter(this, "agent-config", {
      name: parameterNameOf(scope, "cloudwatch-agent"),
      type: "String",
      tier: "Standard",
      value: renderCloudWatchAgentConfig({ logGroupName: logGroup.name }),
      description: `CloudWatch agent configuration of the Redis nodes of ${scope.node.path}`,
      tags: props.tags,
    });
    this.agentConfigParameterName = config.name;
    this.agentConfigParameterArn = config.arn;
    const targets = [{ key: `tag:${props.nodeTag.key}`, values: [props.nodeTag.value] }];
    new SsmAssociation(this, "install-agent", {
      name: "AWS-ConfigureAWSPackage",
      associationName: `${associationPrefix(scope)}-install-cloudwatch-agent`,
      targets,
      parameters: { action: "Install", installationType: "Uninstall and reinstall", name: "AmazonCloudWatchAgent" },
    });
    // Also every 30 minutes: State Manager runs both associations at once on a
    // new node, and a configure before the install fails; the next run
    // succeeds. Each run restarts the agent (its file positions are kept).
    new SsmAssociation(this, "configure-agent", {
      name: "AmazonCloudWatch-ManageAgent",
      associationName: `${associationPrefix(scope)}-configure-cloudwatch-agent`,
      targets,
      scheduleExpression: "rate(30 minutes)",
      parameters: {
        action: "configure",
        mode: "ec2",
        optionalConfigurationSource: "ssm",
        optionalConfigurationLocation: config.name,
        optionalRestart: "yes",
      },
    });
  }
}

/** Association names: letters, digits, ".", "_" and "-", at most 128 characters with our suffix. */
function associationPrefix(group: IConstruct): string {
  return awsNameOf(group, "A-Za-z0-9_.-", 98);
}
