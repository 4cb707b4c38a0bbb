// What a prop change after deploy does to running nodes, as the synthesized
// JSON says it: the instances ignore a new type and key pair (each comes with
// a replaced instance), and a check block warns at plan while a node runs
// another type than its prop says.
import "cdktf/lib/testing/adapters/jest";
import { TerraformVariable, Testing } from "cdktf";
import { RedisReplicationGroup, RedisReplicationGroupProps } from "../../lib";
import { logicalIdAt, newStack, resources, TerraformJson } from "../helpers";

const AMI = "ami-0123456789abcdef0";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}, id = "redis"): TerraformJson {
  const stack = newStack();
  new RedisReplicationGroup(stack, id, { vpcId: "vpc-1", subnetIds: ["subnet-1"], amiId: AMI, ...props });
  return JSON.parse(Testing.synth(stack)) as TerraformJson;
}

/** The check blocks of the synthesized JSON, by name. */
function checks(json: TerraformJson): Record<string, { assert: { condition: string; error_message: string }[] }> {
  return json.check ?? {};
}

describe("instance type and key pair of running nodes", () => {
  test.each([
    ["data nodes", {}, ["master", "replica-1", "replica-2"]],
    ["dedicated sentinels", { sentinel: { dedicatedNodeCount: 3 } }, ["sentinel-1", "sentinel-2", "sentinel-3"]],
  ])("%s ignore a changed instance_type and key_name, with user data and AMI", (_case, props, nodes) => {
    const json = synthGroup({ keyName: "ops", ...props });
    for (const node of nodes) {
      const instance = resources(json, "aws_instance")[logicalIdAt(json, "aws_instance", `redis/${node}/instance`)];
      expect(instance.lifecycle.ignore_changes).toEqual(["user_data", "user_data_base64", "ami", "instance_type", "key_name"]);
      // Ignored on updates only: a created (or replaced) instance still gets them.
      expect(instance.key_name).toBe("ops");
      expect(instance.instance_type).toBe(node.startsWith("sentinel") ? "t3.micro" : "t3.medium");
    }
  });
});

describe("instance type check", () => {
  test("one check per group, one assertion per node, comparing the instance's type with its prop", () => {
    const json = synthGroup({ instanceType: "r7g.large", sentinel: { dedicatedNodeCount: 3, dedicatedInstanceType: "t4g.small" } });
    const all = checks(json);
    expect(Object.keys(all)).toHaveLength(1);
    const [name, block] = Object.entries(all)[0];
    expect(name).toMatch(/^redis_instance-types_[0-9A-F]{8}$/);
    const expected: [string, string][] = [
      ["master", "r7g.large"],
      ["replica-1", "r7g.large"],
      ["replica-2", "r7g.large"],
      ["sentinel-1", "t4g.small"],
      ["sentinel-2", "t4g.small"],
      ["sentinel-3", "t4g.small"],
    ];
    expect(block.assert.map((a) => a.condition)).toEqual(
      expected.map(([node, type]) => `\${(aws_instance.${logicalIdAt(json, "aws_instance", `redis/${node}/instance`)}.instance_type == "${type}")}`),
    );
  });

  test("each warning names the node, its running type, the prop, the new type and the command that replaces it", () => {
    const json = synthGroup({ instanceType: "m7g.large", sentinel: { dedicatedNodeCount: 3 } });
    const messages = Object.values(checks(json))[0].assert.map((a) => a.error_message);
    const replica = logicalIdAt(json, "aws_instance", "redis/replica-2/instance");
    const sentinel = logicalIdAt(json, "aws_instance", "redis/sentinel-1/instance");
    expect(messages[2]).toContain(`test/redis/replica-2 (aws_instance.${replica}, \${aws_instance.${replica}.id}) runs \${aws_instance.${replica}.instance_type}; instanceType is now m7g.large.`);
    expect(messages[2]).toContain(`terraform apply -replace=aws_instance.${replica} `);
    expect(messages[2]).toContain("replicas first and the current master last");
    expect(messages[2]).toContain("redis-node-restart --check");
    expect(messages[3]).toContain(`runs \${aws_instance.${sentinel}.instance_type}; sentinel.dedicatedInstanceType is now t3.micro.`);
    expect(messages[3]).toContain(`terraform apply -replace=aws_instance.${sentinel} `);
  });

  test("an instance type from a variable is compared as the expression it is", () => {
    const stack = newStack();
    const type = new TerraformVariable(stack, "type", { type: "string" });
    new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-1"], amiId: AMI, instanceType: type.stringValue, redis: { maxMemory: "1gb" } });
    const json = JSON.parse(Testing.synth(stack)) as TerraformJson;
    const block = Object.values(checks(json))[0];
    const master = logicalIdAt(json, "aws_instance", "redis/master/instance");
    expect(block.assert[0].condition).toBe(`\${(aws_instance.${master}.instance_type == var.type)}`);
    expect(block.assert[0].error_message).toContain("instanceType is now ${var.type}.");
  });

  test("two groups in one stack get a check each, named apart", () => {
    const stack = newStack();
    for (const id of ["a", "b"]) new RedisReplicationGroup(stack, id, { vpcId: "vpc-1", subnetIds: ["subnet-1"], amiId: AMI, outputs: false });
    const names = Object.keys(checks(JSON.parse(Testing.synth(stack)) as TerraformJson));
    expect(names).toHaveLength(2);
    expect(names.map((n) => n.split("_")[0]).sort()).toEqual(["a", "b"]);
  });
});
