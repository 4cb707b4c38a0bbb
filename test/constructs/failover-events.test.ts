// Failover events at synth time: what each sentinel node gets (the script in
// sentinel.conf, the part's files, the role's statement) and the optional
// rule forwarding to an SNS topic; validation of the events props.
import { TerraformVariable } from "cdktf";
import { RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError } from "../../lib";
import {
  bootLibrary,
  libraryPathOnNode,
  SENTINEL_EVENT_DETAIL_TYPE,
  SENTINEL_EVENT_SOURCE,
  SENTINEL_EVENTS_DIR,
  SENTINEL_NOTIFY_SCRIPT,
  unescapeTerraformTemplate,
} from "../../lib/boot";
import { cloudConfigFiles, nodeEnvVariable, parseCloudConfig, dataSources, directivesNamed, iamStatements, newStack, parseRedisConf, resources, synthJson, TerraformJson, userDataOf } from "../helpers";

const SENTINEL_CONF = "/etc/redis-node/sentinel.conf.template";
const BUS = "arn:aws:events:eu-west-1:123456789012:event-bus/ops";
const TOPIC = "arn:aws:sns:eu-west-1:123456789012:redis-failovers";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): { json: TerraformJson; group: RedisReplicationGroup } {
  const stack = newStack();
  const group = new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], ...props });
  return { json: synthJson(stack), group };
}
const writeFiles = (userData: string): Array<{ path: string; owner: string; permissions: string; content: string }> => parseCloudConfig(userData).write_files;
const eventStatements = (json: TerraformJson) => iamStatements(json).filter((s) => s.actions.some((a) => a.startsWith("events:")));

describe("failover events on (the default)", () => {
  const { json, group } = synthGroup();
  const nodes = Object.entries(userDataOf(json));

  test.each(nodes.map(([n]) => n))("%s: sentinel.conf runs the part's step as notification-script, set at render time", (node) => {
    const conf = parseRedisConf(cloudConfigFiles(userDataOf(json)[node])[SENTINEL_CONF]);
    expect(directivesNamed(conf, "sentinel", "notification-script")).toEqual([["main", SENTINEL_NOTIFY_SCRIPT]]);
    expect(directivesNamed(conf, "sentinel", "deny-scripts-reconfig")).toEqual([["yes"]]);
    expect(SENTINEL_NOTIFY_SCRIPT).toBe("/usr/local/lib/redis-node/parts/sentinel-events.sh");
  });

  test("each node's files: the script executable by all in the boot library (which root installs), units and drop-in root's 0644", () => {
    const library = JSON.parse(bootLibrary().bundle) as Record<string, [string, string]>;
    expect(library["parts/sentinel-events.sh"][0]).toBe("0755");
    expect(libraryPathOnNode("parts/sentinel-events.sh")).toBe(SENTINEL_NOTIFY_SCRIPT);
    for (const [node, userData] of nodes) {
      expect(nodeEnvVariable(userData, "BOOT_PARTS")).toMatch(/ redis-server redis-role sentinel-events sentinel planned-failover ssm-agent$/);
      const files = Object.fromEntries(writeFiles(userData).map((f) => [f.path, f]));
      const mode = (path: string) => `${files[path]?.owner} ${files[path]?.permissions}`;
      for (const path of ["/etc/systemd/system/redis-sentinel-events.service", "/etc/systemd/system/redis-sentinel-events.path", "/etc/systemd/system/redis-sentinel-events.timer", "/etc/systemd/system/redis-sentinel.service.d/30-events.conf"]) {
        expect({ node, path, mode: mode(path) }).toEqual({ node, path, mode: "root:root 0644" });
      }
      const content = (path: string) => unescapeTerraformTemplate(files[path].content);
      expect(content("/etc/systemd/system/redis-sentinel-events.service")).toContain(`ExecStart=${SENTINEL_NOTIFY_SCRIPT} send\n`);
      expect(content("/etc/systemd/system/redis-sentinel-events.path")).toContain(`PathChanged=${SENTINEL_EVENTS_DIR}\n`);
      expect(content("/etc/systemd/system/redis-sentinel-events.timer")).toMatch(/^OnUnitInactiveSec=2min$/m);
      // Sentinel's sandbox: the spool writable, the script and what it runs executable; nothing else loosened.
      expect(content("/etc/systemd/system/redis-sentinel.service.d/30-events.conf")).toBe(
        `[Service]\nReadWritePaths=${SENTINEL_EVENTS_DIR}\nExecPaths=${SENTINEL_NOTIFY_SCRIPT} /usr/bin/bash /usr/bin/mv\n`);
      const env = content("/etc/redis-node/node.env");
      expect(env).toContain(`EVENTS_SOURCE='${SENTINEL_EVENT_SOURCE}'\n`);
      expect(env).toContain(`EVENTS_DETAIL_TYPE='${SENTINEL_EVENT_DETAIL_TYPE}'\n`);
      expect(env).toContain("EVENTS_BUS='default'\n");
      expect(env).toMatch(/^EVENTS_DETAIL='\\"group\\":\\"test\/redis\\",\\"node\\":\\"\$\{aws_network_interface\.[\w-]+\.private_ip\}\\"'$/m);
    }
  });

  test("each node's role may put events of the library's source on the region's default bus only", () => {
    const bus = Object.keys(dataSources(json, "aws_cloudwatch_event_bus"));
    expect(bus).toHaveLength(1);
    expect(dataSources(json, "aws_cloudwatch_event_bus")[bus[0]]).toEqual({ name: "default" });
    const statements = eventStatements(json);
    expect(statements).toHaveLength(3);
    for (const s of statements) {
      expect({ effect: s.effect, actions: s.actions, resources: s.resources, condition: s.condition }).toEqual({
        effect: "Allow",
        actions: ["events:PutEvents"],
        resources: [`\${data.aws_cloudwatch_event_bus.${bus[0]}.arn}`],
        condition: { StringEquals: { "events:source": [SENTINEL_EVENT_SOURCE] } },
      });
    }
    expect(group.eventBusArn).toBeDefined();
    expect(group.eventRuleArn).toBeUndefined();
    expect(Object.keys(resources(json, "aws_cloudwatch_event_rule"))).toEqual([]);
  });
});

describe("events.eventBusArn and events.snsTopicArn", () => {
  const { json, group } = synthGroup({ events: { eventBusArn: BUS, snsTopicArn: TOPIC } });

  test("the role may put events on that bus, which every entry names", () => {
    expect(dataSources(json, "aws_cloudwatch_event_bus")).toEqual({});
    expect(eventStatements(json).map((s) => s.resources)).toEqual([[BUS], [BUS], [BUS]]);
    for (const userData of Object.values(userDataOf(json))) expect(cloudConfigFiles(userData)["/etc/redis-node/node.env"]).toContain(`EVENTS_BUS='${BUS}'\n`);
    expect(group.eventBusArn).toBe(BUS);
  });

  test("a rule on that bus matches this group's events and a target sends them to the topic", () => {
    const rules = Object.entries(resources(json, "aws_cloudwatch_event_rule"));
    expect(rules).toHaveLength(1);
    const [ruleId, rule] = rules[0];
    expect(rule.event_bus_name).toBe(BUS);
    expect(JSON.parse(rule.event_pattern)).toEqual({ source: [SENTINEL_EVENT_SOURCE], "detail-type": [SENTINEL_EVENT_DETAIL_TYPE], detail: { group: ["test/redis"] } });
    const targets = Object.values(resources(json, "aws_cloudwatch_event_target"));
    expect(targets).toEqual([{ rule: `\${aws_cloudwatch_event_rule.${ruleId}.name}`, event_bus_name: BUS, arn: TOPIC }]);
    expect(group.eventRuleArn).toMatch(/TOKEN/);
    // The user's topic policy is theirs: the library does not replace it.
    expect(Object.keys(resources(json, "aws_sns_topic_policy"))).toEqual([]);
  });
});

describe("events off", () => {
  test.each<[string, Partial<RedisReplicationGroupProps>]>([
    ["events.enabled false", { events: { enabled: false } }],
    ["Sentinel off", { sentinel: { enabled: false } }],
  ])("%s: no script line, no part, no statement, no bus lookup", (_case, props) => {
    const { json, group } = synthGroup(props);
    for (const userData of Object.values(userDataOf(json))) {
      const files = cloudConfigFiles(userData);
      expect(Object.keys(files).filter((p) => /events/.test(p))).toEqual([]);
      expect(nodeEnvVariable(userData, "BOOT_PARTS")).not.toMatch(/events/);
      if (files[SENTINEL_CONF]) expect(directivesNamed(parseRedisConf(files[SENTINEL_CONF]), "sentinel", "notification-script")).toEqual([]);
    }
    expect(eventStatements(json)).toEqual([]);
    expect(dataSources(json, "aws_cloudwatch_event_bus")).toEqual({});
    expect(group.eventBusArn).toBeUndefined();
  });
});

describe("validation of events", () => {
  test.each<{ case: string; props: Partial<RedisReplicationGroupProps>; message: string | RegExp }>([
    { case: "a bus ARN that is not one", props: { events: { eventBusArn: "ops" } }, message: 'events.eventBusArn "ops" is invalid: expected an event bus ARN such as arn:aws:events:eu-west-1:123456789012:event-bus/default' },
    { case: "a rule ARN for the bus", props: { events: { eventBusArn: "arn:aws:events:eu-west-1:123456789012:rule/x" } }, message: /events\.eventBusArn ".*rule\/x" is invalid/ },
    { case: "a queue for the topic", props: { events: { snsTopicArn: "arn:aws:sqs:eu-west-1:123456789012:q" } }, message: 'events.snsTopicArn "arn:aws:sqs:eu-west-1:123456789012:q" is invalid: expected an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:redis-failovers' },
    { case: "a topic with events off", props: { events: { enabled: false, snsTopicArn: TOPIC } }, message: "events.snsTopicArn is set, but no events are published (events.enabled or sentinel.enabled is false)" },
    { case: "a bus without Sentinel", props: { sentinel: { enabled: false }, replicaCount: 1, events: { eventBusArn: BUS } }, message: "events.eventBusArn is set, but no events are published" },
    { case: "events asked for without Sentinel", props: { sentinel: { enabled: false }, events: { enabled: true } }, message: "events.enabled needs Sentinel (the events are Sentinel's)" },
  ])("$case", ({ props, message }) => {
    expect(() => synthGroup(props)).toThrow(RedisReplicationValidationError);
    expect(() => synthGroup(props)).toThrow(message);
  });

  test("tokens are Terraform's to check", () => {
    const stack = newStack();
    const topic = new TerraformVariable(stack, "topic", { type: "string" }).stringValue;
    expect(() => new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a"], events: { snsTopicArn: topic } })).not.toThrow();
  });
});
