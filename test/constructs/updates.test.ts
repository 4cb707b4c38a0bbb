// The updates part in synthesized stacks: on every node (data nodes and
// dedicated sentinels), its step shipped in the boot library, nothing of it
// in the user data but its name.
import { Testing } from "cdktf";
import { RedisReplicationGroup } from "../../lib";
import { renderCloudConfig, updatesPart } from "../../lib/boot";
import { BOOT_LIB_DIR } from "../../lib/boot/assets";
import {
  cloudConfigFiles,
  newStack,
  nodeEnvVariable,
  nodeFilesOf,
  TEST_LIBRARY,
  TerraformJson,
  userDataOf,
} from "../helpers";

const STEP_ON_NODE = `${BOOT_LIB_DIR}/parts/updates.sh`;

function synthUserData(props: Record<string, unknown>): {
  json: TerraformJson;
  userData: Record<string, string>;
} {
  const stack = newStack();
  new RedisReplicationGroup(stack, "redis", {
    vpcId: "vpc-1",
    subnetIds: ["subnet-1"],
    amiId: "ami-0123456789abcdef0",
    ...props,
  });
  const json = JSON.parse(Testing.synth(stack)) as TerraformJson;
  return { json, userData: userDataOf(json) };
}

describe("the updates part", () => {
  test.each([
    ["sentinel on the data nodes", {}, 3],
    ["dedicated sentinels", { sentinel: { dedicatedNodeCount: 3 } }, 6],
    ["no sentinel", { sentinel: { enabled: false } }, 3],
    ["monitoring on", { monitoring: { enabled: true } }, 3],
  ])(
    "runs on every node (%s), early, from the boot library",
    (_, props, nodes) => {
      const { json, userData } = synthUserData(props);
      expect(Object.keys(userData)).toHaveLength(nodes);
      for (const [node, text] of Object.entries(userData)) {
        const parts = nodeEnvVariable(text, "BOOT_PARTS")!.split(" ");
        expect({ node, parts: parts.slice(0, 2) }).toEqual({
          node,
          parts: ["tuning", "updates"],
        });
        // The step comes from the library the node reads; the user data carries no file of it.
        const files = nodeFilesOf(json, text);
        expect(files[STEP_ON_NODE]).toContain("policy-rc.d");
        expect(Object.keys(cloudConfigFiles(text))).not.toContain(STEP_ON_NODE);
        expect(text).not.toContain("52redis-node-updates");
        expect(text).not.toContain("needrestart");
      }
    }
  );

  test("adds its name to the user data and nothing else: no package, no file, no variable", () => {
    const part = updatesPart();
    expect(part).toMatchObject({ packages: [], files: [], env: {} });
    const others = [
      {
        name: "tuning",
        order: 10,
        packages: [],
        files: [],
        env: {},
        step: "tuning.sh",
      },
    ];
    const without = renderCloudConfig(others, TEST_LIBRARY);
    const withUpdates = renderCloudConfig([...others, part], TEST_LIBRARY);
    expect(withUpdates.length - without.length).toBe(" updates".length);
    expect(nodeEnvVariable(withUpdates, "BOOT_PARTS")).toBe("tuning updates");
  });

  test("no package of the image is installed for it (unattended-upgrades stays the image's)", () => {
    const { userData } = synthUserData({});
    for (const text of Object.values(userData))
      expect(text).not.toMatch(/unattended-upgrades|needrestart/);
  });
});
