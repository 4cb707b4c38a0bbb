import { Testing, TerraformStack } from "cdktf";
import { RedisReplicationGroup } from "../../lib";
import { rotationDocumentName } from "../../lib/auth/password-rotation";
import { GROUP_TAG_KEY, rotatePasswordScript, unescapeTerraformTemplate } from "../../lib/boot";
import { newStack, resources, synthJson, TerraformJson } from "../helpers";

function synthGroup(id = "redis", stack: TerraformStack = newStack()): { json: TerraformJson; group: RedisReplicationGroup } {
  const group = new RedisReplicationGroup(stack, id, { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], tags: { team: "cache" } });
  return { json: synthJson(stack), group };
}

describe("RedisReplicationGroup: password rotation", () => {
  test("one SSM Command document for the group, named after it, running the asset's script", () => {
    const { json } = synthGroup();
    const documents = Object.values(resources(json, "aws_ssm_document"));
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({
      name: "redis-replication-test-redis-rotate-password",
      document_type: "Command",
      document_format: "JSON",
      target_type: "/AWS::EC2::Instance",
      tags: { team: "cache" },
    });
    const content = JSON.parse(unescapeTerraformTemplate(documents[0].content as string));
    expect(content.schemaVersion).toBe("2.2");
    expect(content.parameters.User.allowedPattern).toBe("^[A-Za-z0-9_-]+$");
    expect(content.parameters.Step.allowedValues).toEqual(["add", "switch", "retire"]);
    expect(content.mainSteps[0].inputs.runCommand.join("\n") + "\n").toBe(rotatePasswordScript());
  });

  test("the document's name and the nodes' tag are typed attributes and outputs", () => {
    const { json, group } = synthGroup();
    const [id] = Object.keys(resources(json, "aws_ssm_document"));
    const output = (name: string) => (json.output as TerraformJson)[`redis-${name}`];
    expect(output("rotate-password-document").value).toBe(`\${aws_ssm_document.${id}.name}`);
    expect(output("rotate-password-targets").value).toBe("Key=tag:redis-replication-group,Values=test/redis");
    expect(group.rotatePasswordTargets).toBe("Key=tag:redis-replication-group,Values=test/redis");
    expect(typeof group.rotatePasswordDocumentName).toBe("string");
  });

  test("every node (instance, root and data volume, network interface, role) carries the group's tag besides the user's", () => {
    const { json } = synthGroup();
    const instances = Object.values(resources(json, "aws_instance"));
    expect(instances).toHaveLength(3);
    const tag = { team: "cache", [GROUP_TAG_KEY]: "test/redis" };
    for (const instance of instances) {
      expect(instance.tags).toMatchObject(tag);
      expect(instance.root_block_device.tags).toMatchObject(tag);
    }
    for (const type of ["aws_network_interface", "aws_ebs_volume", "aws_iam_role"]) {
      const tagged = Object.values(resources(json, type)).map((r) => r.tags);
      expect({ type, count: tagged.length }).toEqual({ type, count: 3 });
      for (const tags of tagged) expect(tags).toMatchObject(tag);
    }
  });

  test("two groups get two documents and two tags", () => {
    const stack = newStack();
    const a = synthGroup("a", stack).group;
    const b = new RedisReplicationGroup(stack, "b", { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
    const names = Object.values(resources(synthJson(stack), "aws_ssm_document")).map((d) => d.name);
    expect(names.sort()).toEqual(["redis-replication-test-a-rotate-password", "redis-replication-test-b-rotate-password"]);
    expect(a.rotatePasswordTargets).not.toBe(b.rotatePasswordTargets);
  });

  test("document names keep to SSM's alphabet and length; a long path keeps a digest of the whole", () => {
    const stack = new TerraformStack(Testing.app(), "stack+1");
    const odd = new RedisReplicationGroup(stack, "cache:eu@1 (a)", { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
    expect(rotationDocumentName(odd)).toBe("redis-replication-stack-1-cache-eu-1--a--rotate-password");
    const long = (n: string) => new RedisReplicationGroup(new TerraformStack(Testing.app(), "s"), n, { vpcId: "vpc-1", subnetIds: ["subnet-a"] });
    const [one, two] = [long("x".repeat(120) + "1"), long("x".repeat(120) + "2")].map(rotationDocumentName);
    for (const name of [one, two]) {
      expect(name.length).toBeLessThanOrEqual(128);
      expect(name).toMatch(/^redis-replication-s-x+-[0-9a-f]{10}-rotate-password$/);
    }
    expect(one).not.toBe(two);
  });
});
