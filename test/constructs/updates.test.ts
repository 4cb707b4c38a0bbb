// The updates and ssm-agent parts in synthesized stacks: on every node (data
// nodes and dedicated sentinels), their steps shipped in the boot library,
// nothing of them in the user data but their names.
import { Testing } from "cdktf";
import { RedisReplicationGroup } from "../../lib";
import { renderCloudConfig, ssmAgentPart, updatesPart } from "../../lib/boot";
import { BOOT_LIB_DIR } from "../../lib/boot/assets";
import {
  cloudConfigFiles,
  iamStatements,
  newStack,
  nodeEnvVariable,
  nodeFilesOf,
  TEST_LIBRARY,
  TerraformJson,
  userDataOf,
} from "../helpers";

const STEP_ON_NODE = `${BOOT_LIB_DIR}/parts/updates.sh`;
const AGENT_STEP_ON_NODE = `${BOOT_LIB_DIR}/parts/ssm-agent.sh`;

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

describe("the ssm-agent part", () => {
  test.each([
    ["sentinel on the data nodes", {}, 3],
    ["dedicated sentinels", { sentinel: { dedicatedNodeCount: 3 } }, 6],
    ["no sentinel", { sentinel: { enabled: false } }, 3],
    ["monitoring and dns on", { monitoring: { enabled: true }, dns: { zoneId: "Z0123456789ABCDEFGHIJ", zoneName: "redis.internal" } }, 3],
  ])("runs last on every node (%s), from the boot library, with no grant of its own", (_, props, nodes) => {
    const { json, userData } = synthUserData(props);
    expect(Object.keys(userData)).toHaveLength(nodes);
    for (const [node, text] of Object.entries(userData)) {
      expect({ node, last: nodeEnvVariable(text, "BOOT_PARTS")!.split(" ").at(-1) }).toEqual({ node, last: "ssm-agent" });
      const files = nodeFilesOf(json, text);
      expect(files[AGENT_STEP_ON_NODE]).toContain("amazon-ssm-agent");
      expect(Object.keys(cloudConfigFiles(text))).not.toContain(AGENT_STEP_ON_NODE);
      expect(text).not.toContain("amazon-ssm");
    }
    // The package is public: no S3 grant on the node role.
    expect(iamStatements(json).flatMap((st) => st.actions).filter((a) => a.startsWith("s3:"))).toEqual([]);
  });

  test("adds its name to the user data and nothing else", () => {
    const part = ssmAgentPart();
    expect(part).toMatchObject({ packages: [], files: [], env: {} });
    expect(part.bind).toBeUndefined();
    const others = [{ name: "tuning", order: 10, packages: [], files: [], env: {}, step: "tuning.sh" }];
    const without = renderCloudConfig(others, TEST_LIBRARY);
    const withAgent = renderCloudConfig([...others, part], TEST_LIBRARY);
    expect(withAgent.length - without.length).toBe(" ssm-agent".length);
  });
});
