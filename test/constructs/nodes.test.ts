import "cdktf/lib/testing/adapters/jest";
import { randomBytes } from "crypto";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { Testing, Token } from "cdktf";
import { RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError } from "../../lib";
import { tuningPart } from "../../lib/boot";
import { RedisBootLibrary } from "../../lib/node/boot-library";
import { RedisNode } from "../../lib/node/redis-node";
import { planGroup } from "../../lib/private/planner";
import { architectureOf } from "../../lib/private/architecture";
import {
  cloudConfigFiles,
  dataSources,
  directiveArgs,
  eniAddressRef,
  logicalIdAt,
  newStack,
  parseRedisConf,
  readableUserData,
  resources,
  TerraformJson,
  userDataOf,
  warningsOf,
} from "../helpers";

const AMI = "ami-0123456789abcdef0";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): { synth: string; json: TerraformJson; group: RedisReplicationGroup } {
  const stack = newStack();
  const group = new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-1"], amiId: AMI, ...props });
  const synth = Testing.synth(stack);
  return { synth, json: JSON.parse(synth), group };
}

describe("every node", () => {
  let synth: string;
  let json: TerraformJson;
  beforeAll(() => ({ synth, json } = synthGroup()));
  const instances = () => Object.values(resources(json, "aws_instance"));

  test("puts each instance behind its own network interface", () => {
    for (const node of ["master", "replica-1", "replica-2"]) {
      const eniId = logicalIdAt(json, "aws_network_interface", `redis/${node}/eni`);
      expect(resources(json, "aws_network_interface")[eniId]).toMatchObject({ subnet_id: "subnet-1" });
      const instance = resources(json, "aws_instance")[logicalIdAt(json, "aws_instance", `redis/${node}/instance`)];
      expect(instance.primary_network_interface).toEqual({ network_interface_id: `\${aws_network_interface.${eniId}.id}` });
      expect(instance.subnet_id).toBeUndefined();
      expect(instance.vpc_security_group_ids).toBeUndefined();
    }
  });

  test("requires IMDSv2", () => {
    expect(synth).toHaveResourceWithProperties(Instance, { metadata_options: expect.objectContaining({ http_tokens: "required" }) });
  });

  test("has an encrypted gp3 root volume", () => {
    for (const instance of instances()) {
      expect(instance.root_block_device).toMatchObject({ volume_type: "gp3", encrypted: true, volume_size: 20 });
    }
  });

  test("has its own instance profile and role, and no SSH key", () => {
    const nodes = ["master", "replica-1", "replica-2"];
    expect(Object.keys(resources(json, "aws_iam_instance_profile"))).toHaveLength(nodes.length);
    for (const node of nodes) {
      const instance = resources(json, "aws_instance")[logicalIdAt(json, "aws_instance", `redis/${node}/instance`)];
      const profile = logicalIdAt(json, "aws_iam_instance_profile", `redis/${node}/role/profile`);
      expect(instance.iam_instance_profile).toBe(`\${aws_iam_instance_profile.${profile}.name}`);
      expect(resources(json, "aws_iam_instance_profile")[profile].role).toBe(`\${aws_iam_role.${logicalIdAt(json, "aws_iam_role", `redis/${node}/role`)}.name}`);
      expect(instance).not.toHaveProperty("key_name");
    }
  });

  test("receives its user data gzip-compressed, and ignores later changes of it and of the AMI", () => {
    for (const instance of instances()) {
      expect(instance.user_data).toBeUndefined();
      expect(instance.user_data_base64).toMatch(/^\$\{base64gzip\(local\.redis_[\w-]+_user-data_[0-9A-F]{8}\)\}$/);
      expect(readableUserData(json, instance)).toMatch(/^#cloud-config\n/);
      expect(instance.lifecycle.ignore_changes).toEqual(expect.arrayContaining(["user_data", "user_data_base64", "ami"]));
      expect(instance.user_data_replace_on_change).toBe(false);
    }
  });

  test("launches the given AMI itself; its one lookup only checks its architecture (image-architecture.test.ts)", () => {
    for (const instance of instances()) expect(instance.ami).toBe(AMI);
    expect(Object.values(dataSources(json, "aws_ami"))).toEqual([{ filter: [{ name: "image-id", values: [AMI] }], include_deprecated: true }]);
  });

  test("binds and announces its own network interface address", () => {
    for (const node of ["redis/master", "redis/replica-1"]) {
      const conf = parseRedisConf(cloudConfigFiles(userDataOf(json)[node])["/etc/redis-node/redis.conf.template"]);
      expect(directiveArgs(conf, "bind")).toEqual([eniAddressRef(json, node), "127.0.0.1"]);
      expect(directiveArgs(conf, "replica-announce-ip")).toEqual([eniAddressRef(json, node)]);
    }
  });

  test("the group exposes each node's address, instance and interface", () => {
    const { group } = synthGroup();
    expect(group.master.name).toBe("master");
    expect(group.replicas.map((r) => r.name)).toEqual(["replica-1", "replica-2"]);
    expect(group.sentinelNodes).toEqual([]);
    for (const node of [group.master, ...group.replicas]) {
      expect(node.userData).toMatch(/^#cloud-config\n/);
      for (const attribute of [node.privateIp, node.instanceId, node.networkInterfaceId]) expect(Token.isUnresolved(attribute)).toBe(true);
    }
  });
});

describe("default AMI: the official Debian 12 image for the instance architecture", () => {
  test.each([
    ["r7g.large", "arm64"],
    ["t4g.small", "arm64"],
    ["m7gd.xlarge", "arm64"],
    ["c7gn.large", "arm64"],
    ["t3.medium", "amd64"],
    ["m7i.large", "amd64"],
    ["m7i-flex.large", "amd64"],
    ["g4dn.xlarge", "amd64"],
  ])("%s -> %s", (instanceType, arch) => {
    const { json } = synthGroup({ amiId: undefined, instanceType });
    const amis = Object.values(dataSources(json, "aws_ami"));
    expect(amis).toHaveLength(1);
    expect(amis[0].owners).toEqual(["136693071363"]);
    expect(amis[0].most_recent).toBe(true);
    const names = amis[0].filter.find((f: { name: string }) => f.name === "name").values;
    expect(names).toEqual([`debian-12-${arch}-*`]);
    const amiId = Object.keys(dataSources(json, "aws_ami"))[0];
    for (const instance of Object.values(resources(json, "aws_instance"))) {
      expect(instance).toMatchObject({ ami: `\${data.aws_ami.${amiId}.id}`, instance_type: instanceType });
    }
  });

  test.each([
    ["a1.large", "arm64"], // the first Graviton generation has no "g" after the digit
    ["a1.metal", "arm64"],
    ["g5g.xlarge", "arm64"],
    ["x2gd.large", "arm64"],
    ["im4gn.large", "arm64"],
    ["c5a.large", "amd64"],
    ["p4d.24xlarge", "amd64"],
  ])("architectureOf(%s) is %s", (instanceType, arch) => {
    expect(architectureOf(instanceType)).toBe(arch);
  });
});

describe("dedicated sentinels get an image of their own architecture", () => {
  const amiOf = (json: TerraformJson, node: string) => resources(json, "aws_instance")[logicalIdAt(json, "aws_instance", `redis/${node}/instance`)].ami;
  const archOfLookup = (json: TerraformJson, ref: string) => {
    const id = /^\$\{data\.aws_ami\.([^.]+)\.id\}$/.exec(ref)?.[1];
    const names = dataSources(json, "aws_ami")[id!].filter.find((f: { name: string }) => f.name === "name").values[0] as string;
    return /^debian-12-(amd64|arm64)-\*$/.exec(names)![1];
  };

  test("Graviton data nodes with a given arm64 amiId, t3 sentinels: the sentinels get an amd64 lookup and a warning", () => {
    const { json, group } = synthGroup({ instanceType: "r7g.large", amiId: AMI, sentinel: { dedicatedNodeCount: 3 } });
    expect(amiOf(json, "master")).toBe(AMI);
    for (const node of ["sentinel-1", "sentinel-2", "sentinel-3"]) expect(archOfLookup(json, amiOf(json, node))).toBe("amd64");
    expect(warningsOf(group)).toEqual([expect.stringMatching(/^amiId is an image for arm64 .*sentinel\.dedicatedAmiId/)]);
  });

  test("without amiId: one lookup per architecture, shared", () => {
    const { json } = synthGroup({ instanceType: "r7g.large", amiId: undefined, sentinel: { dedicatedNodeCount: 3 } });
    expect(Object.keys(dataSources(json, "aws_ami"))).toHaveLength(2);
    expect(archOfLookup(json, amiOf(json, "replica-1"))).toBe("arm64");
    expect(archOfLookup(json, amiOf(json, "sentinel-2"))).toBe("amd64");
  });

  test("same architecture: the sentinels share amiId; dedicatedAmiId wins", () => {
    const same = synthGroup({ amiId: AMI, sentinel: { dedicatedNodeCount: 3 } });
    expect(amiOf(same.json, "sentinel-1")).toBe(AMI);
    expect(warningsOf(same.group)).toEqual([]);
    const own = synthGroup({ instanceType: "r7g.large", amiId: AMI, sentinel: { dedicatedNodeCount: 3, dedicatedAmiId: "ami-0aaaaaaaaaaaaaaaa" } });
    expect(amiOf(own.json, "sentinel-3")).toBe("ami-0aaaaaaaaaaaaaaaa");
    expect(warningsOf(own.group)).toEqual([]);
  });
});

describe("replicas and sentinel-only nodes", () => {
  test("a replica replicates from the master's address and port", () => {
    const { json } = synthGroup({ redis: { port: 7000 } });
    const conf = parseRedisConf(cloudConfigFiles(userDataOf(json)["redis/replica-1"])["/etc/redis-node/redis.conf.template"]);
    expect(directiveArgs(conf, "replicaof")).toEqual([eniAddressRef(json, "redis/master"), "7000"]);
  });
});

describe("the synth-time size check", () => {
  test("a node whose user data would pass EC2's limit fails synth, naming the node and its largest parts", () => {
    const noise = randomBytes(15000).toString("base64");
    const spec = planGroup({ vpcId: "vpc-1", subnetIds: ["subnet-1"], dataVolume: { enabled: false } }).nodes[0];
    const build = () => {
      const stack = newStack();
      return new RedisNode(stack, "node", {
        spec,
        subnetId: "subnet-1",
        securityGroupIds: ["sg-1"],
        amiId: AMI,
        bootLibrary: new RedisBootLibrary(stack, "boot-library"),
        bootParts: () => [tuningPart({ tcpBacklog: 511 }), { name: "noise", order: 50, packages: [], files: [{ path: "/x", permissions: "0644", content: noise }], env: {} }],
      });
    };
    expect(build).toThrow(RedisReplicationValidationError);
    expect(build).toThrow(/^\[test\/node\] user data is \d+ bytes gzip-compressed, over the EC2 limit of 16384; largest boot parts: noise \d+ bytes, core \d+ bytes, tuning \d+ bytes$/);
  });
});
