// A given image (amiId, sentinel.dedicatedAmiId) is checked against its
// node's instance type at plan: one aws_ami per distinct given image, the
// instance type lookups the group makes anyway, and a precondition on each
// instance that uses the image. bench/image-architecture.ts runs the same
// precondition through real Terraform.
import { TerraformStack, TerraformVariable } from "cdktf";
import { RedisReplicationGroup, RedisReplicationGroupProps } from "../../lib";
import { dataSources, logicalIdAt, newStack, resources, synthJson, TerraformJson } from "../helpers";

const AMI = "ami-0123456789abcdef0";
const SENTINEL_AMI = "ami-0fedcba9876543210";
const DATA_NODES = ["master", "replica-1", "replica-2"];
const SENTINELS = ["sentinel-1", "sentinel-2", "sentinel-3"];

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}, stack: TerraformStack = newStack()): TerraformJson {
  new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], ...props });
  return synthJson(stack);
}

type Condition = { condition: string; error_message: string };
const instanceOf = (json: TerraformJson, node: string) => resources(json, "aws_instance")[logicalIdAt(json, "aws_instance", `redis/${node}/instance`)];
/** The instance's preconditions that check its image's architecture. */
const imageChecksOf = (json: TerraformJson, node: string): Condition[] =>
  ((instanceOf(json, node).lifecycle.precondition ?? []) as Condition[]).filter((p) => p.condition.includes("supported_architectures"));
/** The given-image lookups (filter image-id), by logical id. */
const givenImages = (json: TerraformJson) =>
  Object.fromEntries(Object.entries(dataSources(json, "aws_ami")).filter(([, ami]) => ami.filter.some((f: { name: string }) => f.name === "image-id")));
/** The logical id of the lookup (data source of `type`) whose one attribute is `value`. */
const lookupWith = (json: TerraformJson, type: string, match: (d: TerraformJson) => boolean) => {
  const ids = Object.entries(dataSources(json, type)).filter(([, d]) => match(d)).map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0];
};
const imageLookup = (json: TerraformJson, amiId: string) =>
  lookupWith(json, "aws_ami", (d) => d.filter.some((f: { name: string; values: string[] }) => f.name === "image-id" && f.values[0] === amiId));
const typeLookup = (json: TerraformJson, instanceType: string) => lookupWith(json, "aws_ec2_instance_type", (d) => d.instance_type === instanceType);
const conditionFor = (image: string, type: string) =>
  `\${contains(data.aws_ec2_instance_type.${type}.supported_architectures, data.aws_ami.${image}.architecture)}`;

describe("no image given: no image lookup, no check", () => {
  test.each([
    ["data nodes only", {}],
    ["dedicated sentinels", { sentinel: { dedicatedNodeCount: 3 } }],
  ])("%s", (_, props) => {
    const json = synthGroup(props);
    expect(givenImages(json)).toEqual({});
    for (const node of Object.keys(resources(json, "aws_instance"))) expect(JSON.stringify(resources(json, "aws_instance")[node].lifecycle)).not.toContain("supported_architectures");
    // The default image lookups (name filter, Debian's account) stay as they were.
    for (const ami of Object.values(dataSources(json, "aws_ami"))) expect(ami.owners).toEqual(["136693071363"]);
  });
});

describe("amiId on the data nodes", () => {
  const json = synthGroup({ amiId: AMI, instanceType: "m7g.large" });

  test("one lookup of the image by its id, shared by the nodes; deprecated images included", () => {
    expect(Object.values(givenImages(json))).toEqual([{ filter: [{ name: "image-id", values: [AMI] }], include_deprecated: true }]);
  });

  test("the instances still launch the given id itself, not the lookup's", () => {
    for (const node of DATA_NODES) expect(instanceOf(json, node).ami).toBe(AMI);
  });

  test("each instance: the image's architecture is among the type's, with the group's one instance type lookup", () => {
    expect(Object.keys(dataSources(json, "aws_ec2_instance_type"))).toHaveLength(1);
    const [image, type] = [imageLookup(json, AMI), typeLookup(json, "m7g.large")];
    for (const node of DATA_NODES) {
      expect(imageChecksOf(json, node)).toEqual([
        {
          condition: conditionFor(image, type),
          error_message:
            `test/redis/${node}: its image ${AMI} (amiId) is built for \${data.aws_ami.${image}.architecture}, but its instance type m7g.large runs only ` +
            `\${join(", ", data.aws_ec2_instance_type.${type}.supported_architectures)}: EC2 would refuse to launch it. ` +
            "Set amiId to an image built for one of those, or leave it unset to get the default image of the type's architecture.",
        },
      ]);
    }
  });

  test("beside the vCPU checks, which keep their own", () => {
    const pinned = synthGroup({ amiId: AMI, tls: { enabled: false }, redis: { cpuPinning: { server: "1" } } });
    const conditions = (instanceOf(pinned, "master").lifecycle.precondition as Condition[]).map((p) => p.condition);
    expect(conditions).toHaveLength(2);
    expect(conditions[0]).toMatch(/default_vcpus/);
    expect(conditions[1]).toMatch(/supported_architectures/);
  });
});

describe("dedicated sentinels", () => {
  test("their own dedicatedAmiId: their own image lookup and a lookup of their type, named in their check", () => {
    const json = synthGroup({ amiId: AMI, sentinel: { dedicatedNodeCount: 3, dedicatedAmiId: SENTINEL_AMI } });
    expect(Object.keys(givenImages(json))).toHaveLength(2);
    expect(Object.keys(dataSources(json, "aws_ec2_instance_type"))).toHaveLength(2);
    const sentinelCheck = conditionFor(imageLookup(json, SENTINEL_AMI), typeLookup(json, "t3.micro"));
    for (const node of SENTINELS) {
      const [check] = imageChecksOf(json, node);
      expect(check.condition).toBe(sentinelCheck);
      expect(check.error_message).toMatch(
        new RegExp(`^test/redis/${node}: its image ${SENTINEL_AMI} \\(sentinel\\.dedicatedAmiId\\) .* instance type t3\\.micro runs only .* Set sentinel\\.dedicatedAmiId to an image built for one of those, or leave it unset`),
      );
    }
    for (const node of DATA_NODES) expect(imageChecksOf(json, node)[0].condition).toBe(conditionFor(imageLookup(json, AMI), typeLookup(json, "t3.medium")));
  });

  test("inheriting amiId: the one image lookup for all six nodes, each checked against its own type; the fix names dedicatedAmiId", () => {
    const json = synthGroup({ amiId: AMI, sentinel: { dedicatedNodeCount: 3 } });
    expect(Object.keys(givenImages(json))).toHaveLength(1);
    const image = imageLookup(json, AMI);
    for (const node of SENTINELS) {
      expect(instanceOf(json, node).ami).toBe(AMI);
      const [check] = imageChecksOf(json, node);
      expect(check.condition).toBe(conditionFor(image, typeLookup(json, "t3.micro")));
      expect(check.error_message).toContain(`its image ${AMI} (amiId)`);
      expect(check.error_message).toContain("Set sentinel.dedicatedAmiId to an image built for one of those");
    }
    for (const node of DATA_NODES) expect(imageChecksOf(json, node)[0].condition).toBe(conditionFor(image, typeLookup(json, "t3.medium")));
  });

  test("the same id and the same type as the data nodes: one lookup of each", () => {
    const json = synthGroup({ amiId: AMI, instanceType: "t3.medium", sentinel: { dedicatedNodeCount: 3, dedicatedAmiId: AMI, dedicatedInstanceType: "t3.medium" } });
    expect(Object.keys(givenImages(json))).toHaveLength(1);
    expect(Object.keys(dataSources(json, "aws_ec2_instance_type"))).toHaveLength(1);
    const check = conditionFor(imageLookup(json, AMI), typeLookup(json, "t3.medium"));
    for (const node of [...DATA_NODES, ...SENTINELS]) expect(imageChecksOf(json, node).map((c) => c.condition)).toEqual([check]);
  });

  test("only dedicatedAmiId given: the sentinels are checked, the data nodes get the default image unchecked", () => {
    const json = synthGroup({ sentinel: { dedicatedNodeCount: 3, dedicatedAmiId: SENTINEL_AMI } });
    expect(Object.keys(givenImages(json))).toEqual([imageLookup(json, SENTINEL_AMI)]);
    for (const node of SENTINELS) expect(imageChecksOf(json, node)).toHaveLength(1);
    for (const node of DATA_NODES) expect(imageChecksOf(json, node)).toEqual([]);
  });
});

test("an image id that is a token is checked too: the lookup filters on the reference", () => {
  const stack = newStack();
  const ami = new TerraformVariable(stack, "ami", { type: "string" });
  const json = synthGroup({ amiId: ami.stringValue }, stack);
  const ref = "${var.ami}";
  expect(Object.values(givenImages(json))).toEqual([{ filter: [{ name: "image-id", values: [ref] }], include_deprecated: true }]);
  for (const node of DATA_NODES) {
    expect(instanceOf(json, node).ami).toBe(ref);
    const [check] = imageChecksOf(json, node);
    expect(check.condition).toBe(conditionFor(imageLookup(json, ref), typeLookup(json, "t3.medium")));
    expect(check.error_message).toContain(`its image ${ref} (amiId)`);
  }
});
