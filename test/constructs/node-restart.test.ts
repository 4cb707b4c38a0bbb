// The rolling restart's node command at synth time: which nodes get
// /usr/local/sbin/redis-node-restart (the planned-failover part's start links
// the library file) and the settings it reads from node.env, on both kinds
// of group.
import { RedisReplicationGroup, RedisReplicationGroupProps } from "../../lib";
import { libraryPathOnNode, NODE_RESTART_SCRIPT, PLANNED_FAILOVER_STEP_PATH } from "../../lib/boot";
import { nodeEnvVariable, nodeFilesOf, newStack, synthJson, TerraformJson, userDataOf } from "../helpers";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): TerraformJson {
  const stack = newStack();
  new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b", "subnet-c"], ...props });
  return synthJson(stack);
}

const DATA_NODES = ["master", "replica-1", "replica-2"];
/** What the command requires of every node.env, and what each kind of group adds. */
const COMMON = ["REDIS_PORT", "NODE_ADDRESS", "NODE_OPS_PASSWORD_FILE", "ROLE_SENTINELS", "ROLE_SENTINEL_PORT"];
const CO_LOCATED = ["SENTINEL_PORT", "SENTINEL_MASTER_NAME"];
const DEDICATED = ["ROLE_MASTER_NAME", "HANDOVER_USER", "HANDOVER_PASSWORD_FILE"];

describe("redis-node-restart on a group with dedicated sentinels", () => {
  const json = synthGroup({ sentinel: { dedicatedNodeCount: 3 } });
  const userData = userDataOf(json);

  test.each(DATA_NODES)("%s: the planned-failover part (whose start links the command) and the command's file; it asks the sentinels as node-handover", (node) => {
    const text = userData[`redis/${node}`];
    const files = nodeFilesOf(json, text);
    expect(nodeEnvVariable(text, "BOOT_PARTS")).toMatch(/ planned-failover ssm-agent$/);
    expect(files[NODE_RESTART_SCRIPT]).toMatch(/^#!\/bin\/bash\n# redis-node-restart:/);
    // What the command sources: the hand-over's step and the role decision's.
    expect(Object.keys(files)).toEqual(expect.arrayContaining([PLANNED_FAILOVER_STEP_PATH, libraryPathOnNode("parts/redis-role.sh"), libraryPathOnNode("redis.sh")]));
    for (const name of [...COMMON, ...DEDICATED]) expect({ node, name, set: nodeEnvVariable(text, name) !== undefined }).toEqual({ node, name, set: true });
    expect(nodeEnvVariable(text, "HANDOVER_USER")).toBe("node-handover");
    expect(nodeEnvVariable(text, "HANDOVER_PASSWORD_FILE")).toBe("/etc/redis-node/node-handover.password");
    // No sentinel on the node: nothing of its own to ask or restart.
    expect(nodeEnvVariable(text, "SENTINEL_PORT")).toBeUndefined();
  });

  test.each(["sentinel-1", "sentinel-2", "sentinel-3"])("%s: no command (no planned-failover part: nothing links it), no hand-over login", (node) => {
    const text = userData[`redis/${node}`];
    expect(nodeEnvVariable(text, "BOOT_PARTS")).not.toMatch(/planned-failover/);
    expect(nodeEnvVariable(text, "HANDOVER_USER")).toBeUndefined();
    expect(nodeEnvVariable(text, "HANDOVER_PASSWORD_FILE")).toBeUndefined();
  });
});

test.each(DATA_NODES)("redis-node-restart on a default group, %s: the part, and node.env's settings for a node with its own sentinel", (node) => {
  const text = userDataOf(synthGroup())[`redis/${node}`];
  expect(nodeEnvVariable(text, "BOOT_PARTS")).toMatch(/ sentinel planned-failover ssm-agent$/);
  for (const name of [...COMMON, ...CO_LOCATED]) expect({ node, name, set: nodeEnvVariable(text, name) !== undefined }).toEqual({ node, name, set: true });
  expect(nodeEnvVariable(text, "HANDOVER_USER")).toBeUndefined();
});
