import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { DataAwsCloudwatchEventBus } from "@cdktf/provider-aws/lib/data-aws-cloudwatch-event-bus";
import { Construct } from "constructs";
import { SENTINEL_EVENT_DETAIL_TYPE, SENTINEL_EVENT_SOURCE } from "../boot/parts/sentinel-events";
import { GroupEventsContext } from "../private/node-boot";
import { RedisEventsOptions } from "./replication-group-props";

/** The EventBridge pattern that matches the events of one group. */
export function groupEventPattern(group: string): Record<string, unknown> {
  return { source: [SENTINEL_EVENT_SOURCE], "detail-type": [SENTINEL_EVENT_DETAIL_TYPE], detail: { group: [group] } };
}

/**
 * Where a group's sentinels publish: the given bus or the region's default
 * bus, and with an SNS topic a rule on that bus forwarding the group's
 * events to it.
 */
export class RedisFailoverEvents extends Construct {
  public readonly eventBusArn: string;
  /** The rule forwarding to the SNS topic, if one was given. */
  public readonly ruleArn?: string;
  /** What the sentinels' boot needs. */
  public readonly context: GroupEventsContext;

  constructor(scope: Construct, id: string, group: string, options: RedisEventsOptions, tags?: { [key: string]: string }) {
    super(scope, id);
    // The default bus's ARN names the stack's region and account.
    this.eventBusArn = options.eventBusArn ?? new DataAwsCloudwatchEventBus(this, "default-bus", { name: "default" }).arn;
    this.context = { group, eventBus: options.eventBusArn ?? "default", eventBusArn: this.eventBusArn };
    if (options.snsTopicArn !== undefined) {
      const rule = new CloudwatchEventRule(this, "rule", {
        description: `Redis Sentinel failover events of ${group}`,
        eventBusName: options.eventBusArn ?? "default",
        eventPattern: JSON.stringify(groupEventPattern(group)),
        tags,
      });
      new CloudwatchEventTarget(this, "sns", { rule: rule.name, eventBusName: options.eventBusArn ?? "default", arn: options.snsTopicArn });
      this.ruleArn = rule.arn;
    }
  }
}
