// A group tuned to its instance type: io-threads from the data nodes' vCPUs,
// CPU lists and an explicit io-threads checked against them at plan,
// redis-server's LimitNOFILE, and EC2's automatic recovery.
import { RedisReplicationGroup, RedisReplicationGroupProps } from "../../lib";
import { REDIS_OPEN_FILES_DROP_IN, TEMPLATE_DIR } from "../../lib/boot";
import { cloudConfigFiles, dataSources, directiveArgs, logicalIdAt, newStack, parseRedisConf, resources, synthJson, TerraformJson, userDataOf } from "../helpers";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): TerraformJson {
  const stack = newStack();
  new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], ...props });
  return synthJson(stack);
}

const redisConfTextOf = (json: TerraformJson, node: string) => cloudConfigFiles(userDataOf(json)[`redis/${node}`])[`${TEMPLATE_DIR}/redis.conf.template`];
const redisConfOf = (json: TerraformJson, node: string) => parseRedisConf(redisConfTextOf(json, node));
const instanceOf = (json: TerraformJson, node: string) => resources(json, "aws_instance")[logicalIdAt(json, "aws_instance", `redis/${node}/instance`)];
/** The one lookup of the data nodes' instance type, as Terraform addresses it. */
const typeLookup = (json: TerraformJson) => {
  const ids = Object.keys(dataSources(json, "aws_ec2_instance_type"));
  expect(ids).toHaveLength(1);
  return `data.aws_ec2_instance_type.${ids[0]}`;
};

describe("io-threads", () => {
  test("without TLS: the rule on the data nodes' vCPU count, read at plan", () => {
    const json = synthGroup({ tls: { enabled: false } });
    const vcpus = `${typeLookup(json)}.default_vcpus`;
    // Terraform puts the number in place of the whole ${...}: "io-threads 6" on the node.
    for (const node of ["master", "replica-1", "replica-2"]) {
      expect(redisConfTextOf(json, node)).toContain(`\nio-threads \${min(max((${vcpus} - 2), 1), 8)}\n`);
    }
  });

  test("with TLS (the default): 1, Redis 7.0's threaded I/O does not work with TLS", () => {
    const json = synthGroup();
    expect(directiveArgs(redisConfOf(json, "master"), "io-threads")).toEqual(["1"]);
  });

  test("an explicit ioThreads is written as it is", () => {
    const json = synthGroup({ tls: { enabled: false }, redis: { ioThreads: 3 } });
    expect(directiveArgs(redisConfOf(json, "replica-1"), "io-threads")).toEqual(["3"]);
  });
});

describe("checks against the vCPU count at plan", () => {
  test("nothing pinned, io-threads by the rule: no precondition", () => {
    const json = synthGroup({ tls: { enabled: false } });
    for (const instance of Object.values(resources(json, "aws_instance"))) expect(instance.lifecycle.precondition).toBeUndefined();
  });

  test("every CPU list and an explicit io-threads, on each data node, naming the prop, the list and the type", () => {
    const json = synthGroup({
      tls: { enabled: false },
      instanceType: "r7g.large",
      redis: { ioThreads: 4, cpuPinning: { server: "0-7:2", bgsave: "1" } },
    });
    const vcpus = `${typeLookup(json)}.default_vcpus`;
    for (const node of ["master", "replica-1", "replica-2"]) {
      expect(instanceOf(json, node).lifecycle.precondition).toEqual([
        {
          condition: `\${(6 < ${vcpus})}`,
          error_message: `redis.cpuPinning.server "0-7:2" names CPU 6, but r7g.large has \${${vcpus}} vCPUs (CPUs 0 to \${(${vcpus} - 1)}): Redis would ignore the list. Name only CPUs it has.`,
        },
        {
          condition: `\${(1 < ${vcpus})}`,
          error_message: `redis.cpuPinning.bgsave "1" names CPU 1, but r7g.large has \${${vcpus}} vCPUs (CPUs 0 to \${(${vcpus} - 1)}): Redis would ignore the list. Name only CPUs it has.`,
        },
        {
          condition: `\${(4 < ${vcpus})}`,
          error_message: `redis.ioThreads 4 needs more than 4 vCPUs (a spare one for the main thread), but r7g.large has \${${vcpus}}. Use fewer, or leave it unset.`,
        },
      ]);
    }
    expect(directivesOf(json, "master")).toEqual(expect.arrayContaining([["server_cpulist", "0-7:2"], ["bgsave_cpulist", "1"]]));
  });

  test("not on dedicated sentinels, which run no redis-server", () => {
    const json = synthGroup({ redis: { cpuPinning: { server: "1" } }, sentinel: { dedicatedNodeCount: 3 } });
    const preconditions = Object.entries(resources(json, "aws_instance")).map(([id, instance]) => [id.includes("sentinel"), instance.lifecycle.precondition?.length ?? 0]);
    expect(preconditions.filter(([sentinel]) => sentinel).map(([, n]) => n)).toEqual([0, 0, 0]);
    expect(preconditions.filter(([sentinel]) => !sentinel).map(([, n]) => n)).toEqual([1, 1, 1]);
  });
});

const directivesOf = (json: TerraformJson, node: string) => redisConfOf(json, node).map((d) => [d.name, ...d.args]);

describe("redis-server's LimitNOFILE", () => {
  const limitOf = (json: TerraformJson, node: string) => cloudConfigFiles(userDataOf(json)[`redis/${node}`])[REDIS_OPEN_FILES_DROP_IN];

  test("maxclients + 32 when that is above the package's 65535", () => {
    const json = synthGroup({ redis: { maxClients: 100000 } });
    expect(limitOf(json, "master")).toContain("\n[Service]\nLimitNOFILE=100032\n");
    expect(directiveArgs(redisConfOf(json, "master"), "maxclients")).toEqual(["100000"]);
  });

  test("65535 for the default maxclients", () => {
    expect(limitOf(synthGroup(), "replica-1")).toContain("\nLimitNOFILE=65535\n");
  });
});

describe("EC2 automatic recovery", () => {
  test("on for every node, dedicated sentinels too", () => {
    const json = synthGroup({ sentinel: { dedicatedNodeCount: 3 } });
    const instances = Object.values(resources(json, "aws_instance"));
    expect(instances).toHaveLength(6);
    for (const instance of instances) expect(instance.maintenance_options).toEqual({ auto_recovery: "default" });
  });
});

describe("extra directives", () => {
  test("land last in every data node's redis.conf", () => {
    const json = synthGroup({ redis: { extraDirectives: { "io-threads-do-reads": "yes", "latency-tracking-info-percentiles": "50 99 99.9" } } });
    for (const node of ["master", "replica-1"]) {
      expect(directivesOf(json, node).slice(-2)).toEqual([
        ["io-threads-do-reads", "yes"],
        ["latency-tracking-info-percentiles", "50 99 99.9"],
      ]);
    }
  });
});
