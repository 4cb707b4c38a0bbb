// The data volume of each data node in the synthesized JSON: where it is,
// what it is, how it is attached, and what protects it.
import { TerraformVariable, Testing } from "cdktf";
import { RedisReplicationGroup, RedisReplicationGroupProps } from "../../lib";
import { cloudConfigFiles, dataSources, logicalIdAt, newStack, nodeEnvVariable, nodeFilesOf, parseCloudConfig, resources, TerraformJson, userDataOf } from "../helpers";

const AMI = "ami-0123456789abcdef0";
const KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const DATA_NODES = ["master", "replica-1", "replica-2"];

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}): { json: TerraformJson; group: RedisReplicationGroup } {
  const stack = newStack();
  const group = new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], amiId: AMI, ...props });
  return { json: JSON.parse(Testing.synth(stack)), group };
}

const volumeId = (json: TerraformJson, node: string) => logicalIdAt(json, "aws_ebs_volume", `redis/${node}/data-volume/ebs`);
const volumeOf = (json: TerraformJson, node: string) => resources(json, "aws_ebs_volume")[volumeId(json, node)];
const attachmentOf = (json: TerraformJson, node: string) =>
  resources(json, "aws_volume_attachment")[logicalIdAt(json, "aws_volume_attachment", `redis/${node}/data-volume/attachment`)];
const ref = (json: TerraformJson, type: string, path: string, attribute: string) => `\${${type}.${logicalIdAt(json, type, path)}.${attribute}}`;

describe("one data volume per data node", () => {
  const { json, group } = synthGroup();

  test.each(DATA_NODES)("%s: an encrypted gp3 volume with the defaults (20 GiB, 3000 IOPS, 125 MiB/s), tagged like the node", (node) => {
    expect(volumeOf(json, node)).toMatchObject({ type: "gp3", size: 20, iops: 3000, throughput: 125, encrypted: true, tags: { Name: `test-redis-${node}-data` } });
    expect(volumeOf(json, node)).not.toHaveProperty("kms_key_id");
  });

  test.each(DATA_NODES)("%s: attached to its own instance, which is stopped (a clean shutdown) before the volume is detached", (node) => {
    expect(attachmentOf(json, node)).toMatchObject({
      volume_id: ref(json, "aws_ebs_volume", `redis/${node}/data-volume/ebs`, "id"),
      instance_id: ref(json, "aws_instance", `redis/${node}/instance`, "id"),
      stop_instance_before_detaching: true,
      device_name: "/dev/sdf",
    });
    expect(attachmentOf(json, node)).not.toHaveProperty("skip_destroy");
    expect(attachmentOf(json, node)).not.toHaveProperty("force_detach");
  });

  test("the availability zone comes from a data aws_subnet of the node's subnet, one per distinct subnet, never from the instance", () => {
    const subnets = dataSources(json, "aws_subnet");
    expect(Object.values(subnets).map((s) => s.id).sort()).toEqual(["subnet-a", "subnet-b"]);
    const eniSubnet = (node: string) => resources(json, "aws_network_interface")[logicalIdAt(json, "aws_network_interface", `redis/${node}/eni`)].subnet_id;
    for (const node of DATA_NODES) {
      const zone = /^\$\{data\.aws_subnet\.([^.]+)\.availability_zone\}$/.exec(volumeOf(json, node).availability_zone)?.[1];
      expect({ node, subnet: subnets[zone!]?.id }).toEqual({ node, subnet: eniSubnet(node) });
      // Nothing of the volume depends on the instance, so replacing the instance cannot replace it.
      expect(JSON.stringify(volumeOf(json, node))).not.toMatch(/aws_instance|aws_volume_attachment/);
    }
  });

  test("a subnet list token: the zone of element(list, i), like the node's interface", () => {
    const stack = newStack();
    const subnets = new TerraformVariable(stack, "subnets", { type: "list(string)" }).listValue;
    new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: subnets, amiId: AMI });
    const tokenJson = JSON.parse(Testing.synth(stack));
    const lookups = dataSources(tokenJson, "aws_subnet");
    DATA_NODES.forEach((node, i) => {
      const zone = /^\$\{data\.aws_subnet\.([^.]+)\.availability_zone\}$/.exec(volumeOf(tokenJson, node).availability_zone)![1];
      expect(lookups[zone].id).toBe(`\${element(var.subnets, ${i})}`);
    });
    expect(Object.keys(lookups)).toHaveLength(3);
  });

  test.each(DATA_NODES)("%s: node.env names its own volume for the boot, which mounts it before redis-server starts", (node) => {
    const userData = userDataOf(json)[`redis/${node}`];
    const files = cloudConfigFiles(userData);
    expect(files["/etc/redis-node/node.env"]).toContain(`DATA_VOLUME_ID='${ref(json, "aws_ebs_volume", `redis/${node}/data-volume/ebs`, "id")}'\n`);
    expect(nodeEnvVariable(userData, "BOOT_PARTS")).toMatch(/ data-volume redis-server/);
    expect(Object.keys(nodeFilesOf(json, userData))).toEqual(expect.arrayContaining(["/usr/local/lib/redis-node/parts/data-volume.sh", "/etc/systemd/system/redis-server.service.d/30-data-volume.conf"]));
    expect(parseCloudConfig(userData).packages).toContain("xfsprogs");
  });

  test("Terraform refuses to destroy the volumes unless told; the root volume is tagged on its own (volume_tags would claim the data volume's)", () => {
    for (const node of DATA_NODES) expect(volumeOf(json, node).lifecycle.prevent_destroy).toBe(true);
    for (const instance of Object.values(resources(json, "aws_instance"))) {
      expect(instance).not.toHaveProperty("volume_tags");
      expect(instance.root_block_device.tags).toEqual({ Name: expect.stringMatching(/^test-redis-(master|replica-\d)$/), "redis-replication-group": "test/redis" });
    }
  });

  test("each node exposes its volume's id", () => {
    for (const node of [group.master, ...group.replicas]) expect(node.dataVolumeId).toMatch(/^\$\{TfToken\[/);
  });
});

describe("plan-time checks", () => {
  const conditionsOf = (json: TerraformJson, node: string) => (volumeOf(json, node).lifecycle.precondition ?? []) as Array<{ condition: string; error_message: string }>;

  test("the default maxmemory (70% of the instance's memory): the volume must hold it twice", () => {
    const { json } = synthGroup({ instanceType: "r7g.large" });
    const type = Object.keys(dataSources(json, "aws_ec2_instance_type"));
    expect(type).toHaveLength(1);
    expect(conditionsOf(json, "master")).toEqual([
      {
        condition: `\${(20480 >= (2 * floor((data.aws_ec2_instance_type.${type[0]}.memory_size * 0.7))))}`,
        error_message: expect.stringMatching(/^The data volume of test\/redis\/master \(20 GiB\) cannot hold 2 x maxmemory \(70% of the memory of r7g\.large\): .*Set dataVolume\.sizeGiB/),
      },
    ]);
  });

  test('maxMemory "0" (no limit): the volume must hold the whole memory twice', () => {
    const { json } = synthGroup({ redis: { maxMemory: "0" }, dataVolume: { sizeGiB: 100 } });
    const type = Object.keys(dataSources(json, "aws_ec2_instance_type"))[0];
    expect(conditionsOf(json, "replica-1").map((c) => c.condition)).toEqual([`\${(102400 >= (2 * data.aws_ec2_instance_type.${type}.memory_size))}`]);
  });

  test("a literal maxMemory is checked at synth, so no precondition; a maxMemory token cannot be checked", () => {
    expect(conditionsOf(synthGroup({ redis: { maxMemory: "2gb" } }).json, "master")).toEqual([]);
    const stack = newStack();
    const memory = new TerraformVariable(stack, "memory", { type: "string" }).stringValue;
    new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a"], amiId: AMI, redis: { maxMemory: memory } });
    expect(conditionsOf(JSON.parse(Testing.synth(stack)), "master")).toEqual([]);
  });

  test("the attachment needs a Nitro instance type (a Xen one shows no NVMe serial)", () => {
    const { json } = synthGroup({ redis: { maxMemory: "1gb" } });
    const type = Object.keys(dataSources(json, "aws_ec2_instance_type"))[0];
    for (const node of DATA_NODES) {
      expect(attachmentOf(json, node).lifecycle.precondition).toEqual([
        { condition: `\${(data.aws_ec2_instance_type.${type}.hypervisor != "xen")}`, error_message: expect.stringMatching(/^t3\.medium is a Xen instance type/) },
      ]);
    }
  });
});

describe("options", () => {
  test("size, IOPS, throughput, KMS key and prevent_destroy as given", () => {
    const { json } = synthGroup({ dataVolume: { sizeGiB: 64, iops: 6000, throughputMiBps: 500, kmsKeyArn: KEY, preventDestroy: false } });
    for (const node of DATA_NODES) {
      expect(volumeOf(json, node)).toMatchObject({ size: 64, iops: 6000, throughput: 500, encrypted: true, kms_key_id: KEY, lifecycle: { prevent_destroy: false } });
    }
  });

  test("dedicated sentinels get no volume, no step and no xfsprogs", () => {
    const { json } = synthGroup({ sentinel: { dedicatedNodeCount: 3 } });
    expect(Object.keys(resources(json, "aws_ebs_volume"))).toHaveLength(3);
    expect(Object.keys(resources(json, "aws_volume_attachment"))).toHaveLength(3);
    for (const node of DATA_NODES) expect(volumeOf(json, node)).toBeDefined();
    for (const sentinel of ["sentinel-1", "sentinel-2", "sentinel-3"]) {
      const userData = userDataOf(json)[`redis/${sentinel}`];
      expect(Object.keys(cloudConfigFiles(userData)).filter((p) => /data-volume/.test(p))).toEqual([]);
      expect(nodeEnvVariable(userData, "BOOT_PARTS")).not.toMatch(/data-volume/);
      expect(cloudConfigFiles(userData)["/etc/redis-node/node.env"]).not.toContain("DATA_VOLUME_ID");
      expect(parseCloudConfig(userData).packages).not.toContain("xfsprogs");
    }
  });

  test("enabled false: the data stays on the root volume; no volume, attachment, subnet lookup or step", () => {
    // Without amiId: a given image's architecture check would read the instance type too.
    const { json, group } = synthGroup({ dataVolume: { enabled: false }, redis: { maxMemory: "1gb" }, amiId: undefined });
    expect(resources(json, "aws_ebs_volume")).toEqual({});
    expect(resources(json, "aws_volume_attachment")).toEqual({});
    expect(dataSources(json, "aws_subnet")).toEqual({});
    expect(dataSources(json, "aws_ec2_instance_type")).toEqual({});
    expect(group.master.dataVolumeId).toBeUndefined();
    for (const userData of Object.values(userDataOf(json))) {
      expect(Object.keys(cloudConfigFiles(userData)).filter((p) => /data-volume/.test(p))).toEqual([]);
      expect(nodeEnvVariable(userData, "BOOT_PARTS")).toBe("tuning updates secret-fetch tls redis-server redis-role sentinel-events sentinel planned-failover ssm-agent");
      expect(parseCloudConfig(userData).packages).not.toContain("xfsprogs");
    }
  });
});

describe("instanceStore: the instance type's local NVMe disk", () => {
  const instanceOf = (json: TerraformJson, node: string) => resources(json, "aws_instance")[logicalIdAt(json, "aws_instance", `redis/${node}/instance`)];
  const conditionsOf = (json: TerraformJson, node: string) => (instanceOf(json, node).lifecycle.precondition ?? []) as Array<{ condition: string; error_message: string }>;

  test("no EBS volume, attachment or subnet lookup; the boot's step finds the disk and a unit mounts it before every start of redis-server", () => {
    const { json, group } = synthGroup({ instanceType: "i4i.large", dataVolume: { instanceStore: true } });
    expect(resources(json, "aws_ebs_volume")).toEqual({});
    expect(resources(json, "aws_volume_attachment")).toEqual({});
    expect(dataSources(json, "aws_subnet")).toEqual({});
    expect(group.master.dataVolumeId).toBeUndefined();
    for (const node of DATA_NODES) {
      const userData = userDataOf(json)[`redis/${node}`];
      const files = cloudConfigFiles(userData);
      expect(files["/etc/redis-node/node.env"]).toContain("DATA_INSTANCE_STORE='1'\n");
      expect(files["/etc/redis-node/node.env"]).not.toContain("DATA_VOLUME_ID");
      expect(nodeEnvVariable(userData, "BOOT_PARTS")).toMatch(/ data-volume redis-server/);
      expect(files["/etc/systemd/system/redis-server.service.d/30-data-volume.conf"]).toBe(
        "# Written by cloud-init: no Redis without its data volume.\n[Unit]\nRequires=redis-data-volume.service\nAfter=redis-data-volume.service\n",
      );
      const unit = files["/etc/systemd/system/redis-data-volume.service"];
      expect(unit).toContain("Type=oneshot\nRemainAfterExit=yes\nExecStart=/usr/local/lib/redis-node/parts/data-volume.sh prepare\n");
      expect(unit).toContain("Before=redis-server.service redis-sentinel.service\n");
      expect(parseCloudConfig(userData).packages).toContain("xfsprogs");
    }
  });

  test("Terraform checks at plan that the type is a Nitro type with an instance store whose first disk holds the default maxmemory twice", () => {
    const { json } = synthGroup({ instanceType: "r6id.large", dataVolume: { instanceStore: true }, sentinel: { dedicatedNodeCount: 3 } });
    const type = Object.entries(dataSources(json, "aws_ec2_instance_type")).find(([, t]) => t.instance_type === "r6id.large")![0];
    for (const node of DATA_NODES) {
      expect(conditionsOf(json, node)).toEqual(
        expect.arrayContaining([
          {
            condition: `\${((data.aws_ec2_instance_type.${type}.instance_storage_supported == true) && (data.aws_ec2_instance_type.${type}.hypervisor != "xen"))}`,
            error_message: expect.stringMatching(/^r6id\.large has no instance store the boot can use .*leave dataVolume\.instanceStore unset/),
          },
          {
            // tolist(...).0: Terraform's index by attribute syntax (checked with terraform 1.11: 0 when the type has no disk).
            condition: `\${((try(tolist(data.aws_ec2_instance_type.${type}.instance_disks).0.size, 0) * 1000000000) >= (2097152 * floor((data.aws_ec2_instance_type.${type}.memory_size * 0.7))))}`,
            error_message: expect.stringMatching(/^The instance store of r6id\.large \(\$\{try\(.*\)\} GB in its first disk\) cannot hold 2 x maxmemory \(70% of the memory of r6id\.large\)/),
          },
        ]),
      );
    }
    for (const sentinel of ["sentinel-1", "sentinel-2", "sentinel-3"]) {
      expect(JSON.stringify(conditionsOf(json, sentinel))).not.toMatch(/instance_storage_supported|instance_disks/);
      expect(Object.keys(cloudConfigFiles(userDataOf(json)[`redis/${sentinel}`])).filter((p) => /data-volume/.test(p))).toEqual([]);
    }
  });

  test("a literal maxMemory is checked against the disk at plan (synth cannot know its size); a maxMemory token only for the type", () => {
    const literal = synthGroup({ instanceType: "m6gd.large", dataVolume: { instanceStore: true }, redis: { maxMemory: "2gb" } }).json;
    const ours = (json: TerraformJson) => conditionsOf(json, "master").map((c) => c.condition).filter((c) => /instance_storage_supported|instance_disks/.test(c));
    expect(ours(literal)).toEqual([
      expect.stringContaining("instance_storage_supported == true"),
      expect.stringMatching(/instance_disks\)\.0\.size, 0\) \* 1000000000\) >= \(2097152 \* 2048\)\)\}$/),
    ]);
    const stack = newStack();
    const memory = new TerraformVariable(stack, "memory", { type: "string" }).stringValue;
    new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a"], amiId: AMI, instanceType: "m6gd.large", dataVolume: { instanceStore: true }, redis: { maxMemory: memory } });
    expect(ours(JSON.parse(Testing.synth(stack)))).toEqual([expect.stringContaining("instance_storage_supported == true")]);
  });
});
