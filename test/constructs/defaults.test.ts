// The documented defaults (README "Props and defaults", the props' @default),
// each asserted on the synthesized output, so that a changed default fails a
// test by name instead of hiding in a snapshot update.
import { createHash } from "crypto";
import { RedisPassword, RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError } from "../../lib";
import { BUILTIN_USERS } from "../../lib/boot";
import { RedisBootLibrary } from "../../lib/node/boot-library";
import { RedisNode } from "../../lib/node/redis-node";
import { GroupBootContext, nodeBootParts } from "../../lib/private/node-boot";
import { planGroup } from "../../lib/private/planner";
import {
  cloudConfigFiles,
  dataSources,
  directiveArgs,
  eniAddressRef,
  iamStatements,
  logicalIdAt,
  managedPolicyAttachments,
  newStack,
  parseRedisConf,
  ParsedDirective,
  pathOfLogicalId,
  resources,
  SSM_PARAMETER_READS,
  synthJson,
  TerraformJson,
  userDataOf,
  wildcardGrants,
} from "../helpers";

const BASE: RedisReplicationGroupProps = { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"] };
const REDIS_CONF = "/etc/redis-node/redis.conf.template";
const SENTINEL_CONF = "/etc/redis-node/sentinel.conf.template";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): TerraformJson {
  const stack = newStack();
  new RedisReplicationGroup(stack, "redis", { ...BASE, ...props });
  return synthJson(stack);
}

/** The parsed config at `path` of every node that has one, by node path. */
function configsOf(json: TerraformJson, path: string): Record<string, ParsedDirective[]> {
  const out: Record<string, ParsedDirective[]> = {};
  for (const [node, userData] of Object.entries(userDataOf(json))) {
    const text = cloudConfigFiles(userData)[path];
    if (text !== undefined) out[node] = parseRedisConf(text);
  }
  return out;
}

const MASTER_ADDRESS = "10.0.1.10";

/**
 * The synthesized stack of one node built alone, without a group: the
 * planner's spec of node `id` for `props`, its boot parts, a RedisNode.
 * Other nodes than the master name MASTER_ADDRESS as the master.
 */
function nodeAlone(props: Partial<RedisReplicationGroupProps>, id: string): TerraformJson {
  const stack = newStack();
  // Without TLS and data volume: a node alone gets neither material from a group.
  const plan = planGroup({ ...BASE, tls: { enabled: false }, dataVolume: { enabled: false }, ...props });
  const user = (name: string) => ({
    name,
    password: RedisPassword.fromSsmParameterArn(`arn:aws:ssm:us-east-1:123456789012:parameter/redis/${name}`).bind(stack),
  });
  const context: GroupBootContext = {
    plan,
    users: {
      replication: user(BUILTIN_USERS.replication),
      admin: user(BUILTIN_USERS.admin),
      monitor: user(BUILTIN_USERS.monitor),
      sentinel: user(BUILTIN_USERS.sentinel),
      sentinelPeer: user(BUILTIN_USERS.sentinelPeer),
      sentinelClient: user(BUILTIN_USERS.sentinelClient),
      applications: [{ user: user("app"), rules: ["~*", "+@all"] }],
    },
    defaultMaxMemory: "256mb",
    defaultIoThreads: 1,
    events: { group: "test/redis", eventBus: "default", eventBusArn: "arn:aws:events:us-east-1:123456789012:event-bus/default" },
    sentinelAddresses: `${MASTER_ADDRESS} 10.0.2.10 10.0.3.10`,
  };
  const spec = plan.nodes.find((n) => n.id === id);
  if (!spec) throw new Error(`the plan has no node ${id}`);
  new RedisNode(stack, id, {
    spec,
    subnetId: "subnet-a",
    securityGroupIds: ["sg-1"],
    amiId: "ami-0123456789abcdef0",
    bootLibrary: new RedisBootLibrary(stack, "boot-library"),
    bootParts: (address) => nodeBootParts(spec, address, MASTER_ADDRESS, context),
  });
  return synthJson(stack);
}

describe("sentinel quorum: a majority of the sentinels (more than half) unless set", () => {
  test.each<[string, number, string, Partial<RedisReplicationGroupProps>]>([
    ["a sentinel on each of 1 master + 2 replicas", 3, "2", {}],
    ["a sentinel on each of 1 master + 3 replicas (an even count)", 4, "3", { replicaCount: 3 }],
    ["a sentinel on each of 1 master + 4 replicas", 5, "3", { replicaCount: 4 }],
    ["4 dedicated sentinels", 4, "3", { sentinel: { dedicatedNodeCount: 4 } }],
    ["7 dedicated sentinels", 7, "4", { sentinel: { dedicatedNodeCount: 7 } }],
    ["quorum given, not the majority", 3, "3", { sentinel: { quorum: 3 } }],
  ])("group, %s: each of the %i sentinels monitors with quorum %s", (_case, sentinels, quorum, props) => {
    const monitors = Object.values(configsOf(synthGroup(props), SENTINEL_CONF)).map((conf) => directiveArgs(conf, "sentinel", "monitor")[3]);
    expect(monitors).toEqual(Array(sentinels).fill(quorum));
  });

  test.each<[string, Partial<RedisReplicationGroupProps>, string]>([
    ["master", {}, "2"],
    ["replica-2", { replicaCount: 3 }, "3"],
    ["sentinel-1", { sentinel: { dedicatedNodeCount: 5 } }, "3"],
  ])("a %s node built alone from a plan without a quorum (%j) monitors with the majority, %s", (id, props, quorum) => {
    const json = nodeAlone(props, id);
    const conf = parseRedisConf(cloudConfigFiles(userDataOf(json)[id])[SENTINEL_CONF]);
    const master = id === "master" ? eniAddressRef(json, id) : MASTER_ADDRESS;
    expect(directiveArgs(conf, "sentinel", "monitor")).toEqual(["main", master, "6379", quorum]);
  });
});

describe("user data over EC2's 16 KB limit", () => {
  // Key patterns that hardly compress: hex digests, different for every user.
  const usersWithLongRules = (count: number) =>
    Array.from({ length: count }, (_, i) => ({
      name: `app${i}`,
      keyPatterns: Array.from({ length: 8 }, (_, j) => `${createHash("sha256").update(`${i}/${j}`).digest("hex")}:*`),
    }));

  test("application users with long ACL rules fail synth with RedisReplicationValidationError, naming the node and its largest parts", () => {
    let error: unknown;
    try {
      synthGroup({ users: usersWithLongRules(64) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RedisReplicationValidationError);
    const message = (error as Error).message;
    // The master is built first; the ACL file of the redis-server part carries the rules.
    expect(message).toMatch(
      /^\[test\/redis\/master\] user data is \d+ bytes gzip-compressed, over the EC2 limit of 16384; largest boot parts: redis-server \d+ bytes, [\w-]+ \d+ bytes, [\w-]+ \d+ bytes$/,
    );
    expect(Number(/user data is (\d+) bytes/.exec(message)?.[1])).toBeGreaterThan(16 * 1024);
  });

  test("the same kind of users, fewer of them, synthesize: the size is the problem", () => {
    expect(() => synthGroup({ users: usersWithLongRules(4) })).not.toThrow();
  });
});

describe("redis.conf defaults on every data node", () => {
  let confs: Record<string, ParsedDirective[]>;
  beforeAll(() => (confs = configsOf(synthGroup(), REDIS_CONF)));

  test("there are the three data nodes", () => {
    expect(Object.keys(confs).sort()).toEqual(["redis/master", "redis/replica-1", "redis/replica-2"]);
  });

  test("maxmemory-policy noeviction: writes fail rather than data vanish", () => {
    for (const conf of Object.values(confs)) expect(directiveArgs(conf, "maxmemory-policy")).toEqual(["noeviction"]);
  });

  // memory_size of aws_ec2_instance_type is in MiB; Redis' "mb" is MiB too. The
  // expression has spaces until Terraform renders it: read the line, not its arguments.
  const MAXMEMORY = /^maxmemory \$\{floor\(\(?data\.aws_ec2_instance_type\.([\w-]+)\.memory_size \* ([\d.]+)\)?\)\}mb$/;

  test.each<[string, Partial<RedisReplicationGroupProps>]>([
    ["t3.medium", {}],
    ["r7g.large", { instanceType: "r7g.large" }],
  ])("maxmemory: 70%% of the memory of the data nodes' instance type (%s), looked up once, a whole number of mb", (instanceType, props) => {
    const grouped = synthGroup(props);
    const lookups = dataSources(grouped, "aws_ec2_instance_type");
    expect(Object.values(lookups)).toEqual([{ instance_type: instanceType }]);
    const texts = Object.values(userDataOf(grouped)).map((userData) => cloudConfigFiles(userData)[REDIS_CONF]);
    expect(texts).toHaveLength(3);
    for (const text of texts) {
      const lines = text.split("\n").filter((line) => line.startsWith("maxmemory "));
      expect(lines).toHaveLength(1);
      const parts = MAXMEMORY.exec(lines[0]);
      expect(parts && { lookup: parts[1], share: Number(parts[2]) }).toEqual({ lookup: Object.keys(lookups)[0], share: 0.7 });
    }
  });

  test("maxmemory given: used as written; the instance type is looked up only for the data volume's plan checks", () => {
    const withoutVolume = synthGroup({ redis: { maxMemory: "2gb" }, dataVolume: { enabled: false } });
    expect(dataSources(withoutVolume, "aws_ec2_instance_type")).toEqual({});
    const grouped = synthGroup({ redis: { maxMemory: "2gb" } });
    expect(Object.keys(dataSources(grouped, "aws_ec2_instance_type"))).toHaveLength(1);
    for (const json of [withoutVolume, grouped]) {
      for (const conf of Object.values(configsOf(json, REDIS_CONF))) expect(directiveArgs(conf, "maxmemory")).toEqual(["2gb"]);
    }
  });
});

describe("sentinel.conf defaults on every sentinel", () => {
  test.each<[string, Partial<RedisReplicationGroupProps>, number]>([
    ["on the data nodes", {}, 3],
    ["dedicated", { sentinel: { dedicatedNodeCount: 3 } }, 3],
  ])("%s: down-after-milliseconds 5000, failover-timeout 10000, parallel-syncs 1", (_case, props, count) => {
    const confs = Object.values(configsOf(synthGroup(props), SENTINEL_CONF));
    expect(confs).toHaveLength(count);
    for (const conf of confs) {
      expect(directiveArgs(conf, "sentinel", "down-after-milliseconds")).toEqual(["main", "5000"]);
      expect(directiveArgs(conf, "sentinel", "failover-timeout")).toEqual(["main", "10000"]);
      expect(directiveArgs(conf, "sentinel", "parallel-syncs")).toEqual(["main", "1"]);
    }
  });
});

describe("instance defaults", () => {
  test("every instance, dedicated sentinels included: IMDSv2 only (http_tokens required), hop limit 1 (no container reaches the role's keys)", () => {
    const instances = Object.values(resources(synthGroup({ sentinel: { dedicatedNodeCount: 3 } }), "aws_instance"));
    expect(instances).toHaveLength(6);
    for (const instance of instances) {
      expect(instance.metadata_options).toEqual({ http_endpoint: "enabled", http_tokens: "required", http_put_response_hop_limit: 1 });
    }
  });
});

describe("the node role", () => {
  // AmazonSSMManagedInstanceCore (policy version v2), as the AWS managed policy reference lists its actions.
  const SSM_MANAGED_INSTANCE_CORE = [
    "ssm:DescribeAssociation",
    "ssm:GetDeployablePatchSnapshotForInstance",
    "ssm:GetDocument",
    "ssm:DescribeDocument",
    "ssm:GetManifest",
    "ssm:GetParameter",
    "ssm:GetParameters",
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

  test("Session Manager: an inline policy of AmazonSSMManagedInstanceCore's actions but ssm:GetParameter(s) on each node's role, no managed policy attached", () => {
    const json = synthGroup();
    const statements = iamStatements(json);
    for (const node of ["master", "replica-1", "replica-2"]) {
      const sessionManager = statements.filter((s) => pathOfLogicalId(s.policy.split(".")[1]) === `redis/${node}/role/session-manager`);
      expect(sessionManager.map((s) => [s.effect, s.resources])).toEqual([["Allow", ["*"]]]);
      expect([...sessionManager[0].actions].sort()).toEqual(SSM_MANAGED_INSTANCE_CORE.filter((a) => !/^ssm:GetParameters?$/.test(a)).sort());
    }
    // Across every policy of the stack: no read of every parameter of the account.
    expect(wildcardGrants(statements, SSM_PARAMETER_READS)).toEqual([]);
    expect(managedPolicyAttachments(json)).toEqual([]);
  });
});

describe("generated passwords", () => {
  // One per application user ("app") and per built-in user (node-handover: with dedicated sentinels only).
  const GENERATED_USERS = ["app", ...Object.values(BUILTIN_USERS).filter((u) => u !== BUILTIN_USERS.nodeHandover)];
  const generatorOf = (json: TerraformJson, user: string) =>
    dataSources(json, "aws_secretsmanager_random_password")[logicalIdAt({ resource: json.data }, "aws_secretsmanager_random_password", `redis/users/${user}/password-generator`)];

  test("each is 32 letters and digits: punctuation and space excluded, nothing else", () => {
    const json = synthGroup();
    expect(Object.keys(dataSources(json, "aws_secretsmanager_random_password"))).toHaveLength(GENERATED_USERS.length);
    for (const user of GENERATED_USERS) {
      expect(generatorOf(json, user)).toEqual({ password_length: 32, exclude_punctuation: true, include_space: false });
    }
  });

  test("a length given applies to that password only, with the same characters", () => {
    const json = synthGroup({ password: RedisPassword.generated({ length: 48 }) });
    expect(generatorOf(json, "app")).toEqual({ password_length: 48, exclude_punctuation: true, include_space: false });
    expect(generatorOf(json, BUILTIN_USERS.admin)).toEqual({ password_length: 32, exclude_punctuation: true, include_space: false });
  });
});
