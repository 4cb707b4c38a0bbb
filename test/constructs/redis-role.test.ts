// Safe boot roles at synth time: which nodes decide their role before every
// start of redis-server, the drop-in that runs it, and what it asks.
import { RedisReplicationGroup, RedisReplicationGroupProps } from "../../lib";
import { bootLibrary, REDIS_ROLE_DROP_IN, REDIS_ROLE_STEP } from "../../lib/boot";
import { cloudConfigFiles, nodeEnvVariable, newStack, synthJson, TerraformJson, userDataOf } from "../helpers";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): TerraformJson {
  const stack = newStack();
  new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b", "subnet-c"], ...props });
  return synthJson(stack);
}
const eniIp = (node: string) => new RegExp(`^\\$\\{aws_network_interface\\.redis_${node}_eni_[0-9A-F]+\\.private_ip\\}$`);

describe("redis-role on a default group (a sentinel on each data node)", () => {
  const json = synthGroup({ sentinel: { downAfterMilliseconds: 8000 } });
  const userData = userDataOf(json);

  test.each(["master", "replica-1", "replica-2"])("%s: the decision runs as redis-server's ExecStartPre, as root, with a bounded start", (node) => {
    const files = cloudConfigFiles(userData[`redis/${node}`]);
    expect(files[REDIS_ROLE_DROP_IN]).toBe(
      ["# Written by cloud-init: ask the sentinels for the master before every start.", "[Service]", `ExecStartPre=+${REDIS_ROLE_STEP} decide`, "TimeoutStartSec=189", ""].join("\n"),
    );
    expect(bootLibrary().paths).toContain("parts/redis-role.sh");
    expect(nodeEnvVariable(userData[`redis/${node}`], "BOOT_PARTS")).toMatch(/ redis-server redis-role /);
  });

  test.each([
    ["master", "master"],
    ["replica-1", "replica"],
  ])("%s: asks every sentinel of the group, knows its own address and planned role, waits the crash restart delay + 30 s at most", (node, planned) => {
    const env = (name: string) => nodeEnvVariable(userData[`redis/${node}`], name);
    const sentinels = (env("ROLE_SENTINELS") ?? "").split(" ");
    expect(sentinels).toHaveLength(3);
    ["master", "replica-1", "replica-2"].forEach((n, i) => expect(sentinels[i]).toMatch(eniIp(n)));
    expect(env("ROLE_SELF")).toMatch(eniIp(node));
    expect(env("ROLE_PLANNED")).toBe(planned);
    expect(env("ROLE_SENTINEL_PORT")).toBe("26379");
    expect(env("ROLE_MASTER_NAME")).toBe("main");
    expect(env("ROLE_ASK_SECONDS")).toBe("10");
    // The crash restart delay (ceil(8000 / 1000) + 2 x 10 + 1 for a split vote's retry + 10) + 30.
    expect(env("ROLE_WAIT_SECONDS")).toBe("69");
  });
});

describe("redis-role on a group with dedicated sentinels", () => {
  const userData = userDataOf(synthGroup({ sentinel: { dedicatedNodeCount: 3 } }));

  test.each([
    ["master", "master"],
    ["replica-1", "replica"],
    ["replica-2", "replica"],
  ])("%s: the same drop-in; asks the dedicated sentinels as sentinel-client with the password the boot keeps root-only", (node, planned) => {
    const text = userData[`redis/${node}`];
    const env = (name: string) => nodeEnvVariable(text, name);
    expect(cloudConfigFiles(text)[REDIS_ROLE_DROP_IN]).toContain(`ExecStartPre=+${REDIS_ROLE_STEP} decide`);
    expect(env("BOOT_PARTS")).toMatch(/ redis-server redis-role planned-failover ssm-agent$/);
    const sentinels = (env("ROLE_SENTINELS") ?? "").split(" ");
    expect(sentinels).toHaveLength(3);
    ["sentinel-1", "sentinel-2", "sentinel-3"].forEach((n, i) => expect(sentinels[i]).toMatch(eniIp(n)));
    expect(env("ROLE_SELF")).toMatch(eniIp(node));
    expect(env("ROLE_PLANNED")).toBe(planned);
    expect(env("ROLE_USER")).toBe("sentinel-client");
    expect(env("ROLE_PASSWORD_FILE")).toBe("/etc/redis-node/sentinel-client.password");
  });

  test("the sentinel nodes run no redis-server: no decision there; data nodes with their own sentinel keep sentinel.conf's login", () => {
    for (const node of ["sentinel-1", "sentinel-2", "sentinel-3"]) {
      expect({ node, dropIn: cloudConfigFiles(userData[`redis/${node}`])[REDIS_ROLE_DROP_IN] }).toEqual({ node, dropIn: undefined });
      expect(nodeEnvVariable(userData[`redis/${node}`], "BOOT_PARTS")).not.toMatch(/redis-role/);
    }
    const defaultGroup = userDataOf(synthGroup())["redis/master"];
    expect(nodeEnvVariable(defaultGroup, "ROLE_USER")).toBeUndefined();
    expect(nodeEnvVariable(defaultGroup, "ROLE_PASSWORD_FILE")).toBeUndefined();
  });
});

test("without Sentinel there is no one to ask: no role decision", () => {
  const userData = userDataOf(synthGroup({ sentinel: { enabled: false, allowFewerThanThreeSentinels: true } }));
  for (const [node, text] of Object.entries(userData)) {
    expect({ node, dropIn: cloudConfigFiles(text)[REDIS_ROLE_DROP_IN] }).toEqual({ node, dropIn: undefined });
    expect(nodeEnvVariable(text, "BOOT_PARTS")).not.toMatch(/redis-role/);
  }
});
