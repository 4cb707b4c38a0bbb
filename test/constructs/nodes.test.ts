import "cdktf/lib/testing/adapters/jest";
import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { Testing, TerraformStack } from "cdktf";
import { RedisMasterNode, RedisNodeBaseProps, RedisReplicaNode, RedisSentinelNode, SecretStore } from "../../lib";
import { architectureOf } from "../../lib/redis-node";
import {
  cloudConfigFiles,
  dataSources,
  directiveArgs,
  eniAddressRef,
  logicalIdAt,
  newStack,
  parseCloudConfig,
  parseRedisConf,
  resources,
  synthJson,
  userDataOf,
} from "../helpers";

const base: RedisNodeBaseProps = {
  subnetId: "subnet-1",
  securityGroupIds: ["sg-1"],
  instanceProfileName: "redis-profile",
  password: { store: SecretStore.SSM, secretId: "/redis/password", secretArn: "arn:aws:ssm:us-east-1:123456789012:parameter/redis/password" },
  amiId: "ami-0123456789abcdef0",
};

describe("RedisMasterNode", () => {
  let stack: TerraformStack;
  let synth: string;
  beforeAll(() => {
    stack = newStack();
    new RedisMasterNode(stack, "node", { ...base, redis: { maxMemory: "1gb" } });
    synth = Testing.synth(stack);
  });

  test("puts the instance behind its own network interface", () => {
    const json = JSON.parse(synth);
    const enis = resources(json, "aws_network_interface");
    expect(Object.keys(enis)).toHaveLength(1);
    const eniId = logicalIdAt(json, "aws_network_interface", "node/eni");
    expect(enis[eniId]).toMatchObject({ subnet_id: "subnet-1", security_groups: ["sg-1"] });
    const instance = resources(json, "aws_instance")[logicalIdAt(json, "aws_instance", "node/instance")];
    expect(instance.primary_network_interface).toEqual({ network_interface_id: `\${aws_network_interface.${eniId}.id}` });
    expect(instance.subnet_id).toBeUndefined();
    expect(instance.vpc_security_group_ids).toBeUndefined();
  });

  test("requires IMDSv2", () => {
    expect(synth).toHaveResourceWithProperties(Instance, { metadata_options: expect.objectContaining({ http_tokens: "required" }) });
  });

  test("has an encrypted gp3 root volume", () => {
    expect(synth).toHaveResourceWithProperties(Instance, {
      root_block_device: expect.objectContaining({ volume_type: "gp3", encrypted: true, volume_size: 20 }),
    });
  });

  test("has an instance profile and no SSH key", () => {
    const instance = Object.values(resources(JSON.parse(synth), "aws_instance"))[0];
    expect(instance.iam_instance_profile).toBe("redis-profile");
    expect(instance).not.toHaveProperty("key_name");
  });

  test("ignores later changes of user data and AMI, and never replaces on user data change", () => {
    const instance = Object.values(resources(JSON.parse(synth), "aws_instance"))[0];
    expect(instance.lifecycle.ignore_changes).toEqual(expect.arrayContaining(["user_data", "ami"]));
    expect(instance.user_data_replace_on_change).toBe(false);
  });

  test("uses the given AMI without a lookup", () => {
    expect(synth).toHaveResourceWithProperties(Instance, { ami: "ami-0123456789abcdef0" });
    expect(synth).not.toHaveDataSource(DataAwsAmi);
  });

  test("binds and announces its own network interface address; no replicaof", () => {
    const json = JSON.parse(synth);
    const conf = parseRedisConf(cloudConfigFiles(userDataOf(json)["node"])["/etc/redis-node/redis.conf.template"]);
    expect(directiveArgs(conf, "bind")).toEqual([eniAddressRef(json, "node"), "127.0.0.1"]);
    expect(directiveArgs(conf, "replica-announce-ip")).toEqual([eniAddressRef(json, "node")]);
    expect(conf.some((d) => d.name === "replicaof")).toBe(false);
  });

  test("sets a fixed private address when asked", () => {
    const s = newStack();
    new RedisMasterNode(s, "node", { ...base, privateIp: "10.0.1.50" });
    expect(Object.values(resources(synthJson(s), "aws_network_interface"))[0].private_ips).toEqual(["10.0.1.50"]);
  });
});

describe("default AMI: Ubuntu 24.04 from Canonical for the instance architecture", () => {
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
    const stack = newStack();
    new RedisMasterNode(stack, "node", { ...base, amiId: undefined, instanceType });
    const json = synthJson(stack);
    const amis = Object.values(dataSources(json, "aws_ami"));
    expect(amis).toHaveLength(1);
    expect(amis[0].owners).toEqual(["099720109477"]);
    expect(amis[0].most_recent).toBe(true);
    const names = amis[0].filter.find((f: { name: string }) => f.name === "name").values;
    expect(names).toEqual([`ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${arch}-server-*`]);
    const amiId = Object.keys(dataSources(json, "aws_ami"))[0];
    expect(Object.values(resources(json, "aws_instance"))[0]).toMatchObject({ ami: `\${data.aws_ami.${amiId}.id}`, instance_type: instanceType });
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

describe("RedisReplicaNode", () => {
  test("replicates from the master address and announces its own", () => {
    const stack = newStack();
    new RedisReplicaNode(stack, "replica", { ...base, masterAddress: "10.0.1.10", masterPort: 7000, redis: { port: 7000 } });
    const json = synthJson(stack);
    const conf = parseRedisConf(cloudConfigFiles(userDataOf(json)["replica"])["/etc/redis-node/redis.conf.template"]);
    expect(directiveArgs(conf, "replicaof")).toEqual(["10.0.1.10", "7000"]);
    expect(directiveArgs(conf, "replica-announce-ip")).toEqual([eniAddressRef(json, "replica")]);
  });
});

describe("RedisSentinelNode", () => {
  test("runs Sentinel only", () => {
    const stack = newStack();
    new RedisSentinelNode(stack, "sentinel", { ...base, masterAddress: "10.0.1.10", sentinel: { masterName: "cache", quorum: 2 } });
    const json = synthJson(stack);
    const userData = userDataOf(json)["sentinel"];
    const files = cloudConfigFiles(userData);
    expect(parseCloudConfig(userData).packages).not.toContain("redis-server");
    expect(parseCloudConfig(userData).packages).toContain("redis-sentinel");
    expect(files["/etc/redis-node/redis.conf.template"]).toBeUndefined();
    expect(files["/etc/redis-node/node.env"]).toContain("RUN_REDIS_SERVER='no'");
    const conf = parseRedisConf(files["/etc/redis-node/sentinel.conf.template"]);
    expect(directiveArgs(conf, "sentinel", "monitor")).toEqual(["cache", "10.0.1.10", "6379", "2"]);
    expect(directiveArgs(conf, "sentinel", "announce-ip")).toEqual([eniAddressRef(json, "sentinel")]);
  });
});
