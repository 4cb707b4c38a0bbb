// The documented defaults (README "Props and defaults", the props' @default),
// each asserted on the synthesized output, so that a changed default fails a
// test by name instead of hiding in a snapshot update.
import { createHash } from "crypto";
import { RedisNodeRole, RedisPassword, RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError } from "../../lib";
import { BUILTIN_USERS } from "../../lib/boot";
import { RedisNode } from "../../lib/node/redis-node";
import { GroupBootContext, nodeBootParts } from "../../lib/private/node-boot";
import { planGroup } from "../../lib/private/planner";
import {
  cloudConfigFiles,
  directiveArgs,
  eniAddressRef,
  newStack,
  parseRedisConf,
  ParsedDirective,
  synthJson,
  TerraformJson,
  userDataOf,
} from "../helpers";

const BASE: RedisReplicationGroupProps = { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"] };
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
  const plan = planGroup({ ...BASE, tls: { enabled: false }, ...props });
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
  };
  const spec = plan.nodes.find((n) => n.id === id);
  if (!spec) throw new Error(`the plan has no node ${id}`);
  new RedisNode(stack, id, {
    spec,
    subnetId: "subnet-a",
    securityGroupIds: ["sg-1"],
    role: new RedisNodeRole(stack, "role"),
    amiId: "ami-0123456789abcdef0",
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
