// Writer and reader names at synth time: the zone (made for the VPC, or the
// given one), the records with their TTL and ignore_changes, what each
// sentinel node gets (the script in sentinel.conf, the part's files, the
// role's statements scoped to the zone and the two names), validation.
import { RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError } from "../../lib";
import { DNS_DROP_IN, DNS_RECONFIG_SCRIPT, DNS_TRIGGER_DIR, unescapeTerraformTemplate } from "../../lib/boot";
import { cloudConfigFiles, dataSources, directivesNamed, iamStatements, newStack, nodeEnvVariable, parseCloudConfig, parseRedisConf, resources, synthJson, TerraformJson, userDataOf } from "../helpers";

const SENTINEL_CONF = "/etc/redis-node/sentinel.conf.template";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}, id = "redis"): { json: TerraformJson; group: RedisReplicationGroup } {
  const stack = newStack();
  const group = new RedisReplicationGroup(stack, id, { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"], ...props });
  return { json: synthJson(stack), group };
}
const dnsStatements = (json: TerraformJson) => iamStatements(json).filter((s) => s.actions.some((a) => a.startsWith("route53:")));
const eniIp = (json: TerraformJson, node: string) => {
  const key = Object.keys(resources(json, "aws_network_interface")).find((k) => k.startsWith(`redis_${node}_eni_`));
  return `\${aws_network_interface.${key}.private_ip}`;
};

describe("dns with a zone made for the group's VPC", () => {
  const { json, group } = synthGroup({ dns: { zoneName: "Redis.Internal" } });
  const zones = Object.entries(resources(json, "aws_route53_zone"));
  const zoneKey = zones[0]?.[0];

  test("one private zone of that name, associated with the group's VPC", () => {
    expect(zones).toHaveLength(1);
    expect(zones[0][1]).toMatchObject({ name: "Redis.Internal", vpc: [{ vpc_id: "vpc-1" }] });
    expect(group.dnsZoneId).toMatch(/TOKEN/);
  });

  test("writer (the planned master) and reader (the planned replicas) A records, TTL 5, their addresses left to the nodes", () => {
    const records = Object.values(resources(json, "aws_route53_record")).sort((a, b) => (a.name > b.name ? -1 : 1));
    expect(records).toEqual([
      { zone_id: `\${aws_route53_zone.${zoneKey}.zone_id}`, name: "writer.redis.redis.internal", type: "A", ttl: 5, records: [eniIp(json, "master")], lifecycle: { ignore_changes: ["records"] } },
      { zone_id: `\${aws_route53_zone.${zoneKey}.zone_id}`, name: "reader.redis.redis.internal", type: "A", ttl: 5, records: [eniIp(json, "replica-1"), eniIp(json, "replica-2")], lifecycle: { ignore_changes: ["records"] } },
    ]);
    expect(group.writerName).toBe("writer.redis.redis.internal");
    expect(group.readerName).toBe("reader.redis.redis.internal");
  });

  test("each sentinel's role may UPSERT A records of the two names in that zone only, and list the zone", () => {
    const statements = dnsStatements(json);
    expect(statements).toHaveLength(6);
    const zoneArn = `\${aws_route53_zone.${zoneKey}.arn}`;
    expect(statements.filter((s) => s.actions[0] === "route53:ChangeResourceRecordSets").map((s) => ({ actions: s.actions, resources: s.resources, condition: s.condition }))).toEqual(
      Array(3).fill({
        actions: ["route53:ChangeResourceRecordSets"],
        resources: [zoneArn],
        condition: {
          "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["writer.redis.redis.internal", "reader.redis.redis.internal"],
            "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
            "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
          },
        },
      }),
    );
    expect(statements.filter((s) => s.actions[0] !== "route53:ChangeResourceRecordSets").map((s) => [s.actions, s.resources, s.condition])).toEqual(
      Array(3).fill([["route53:ListResourceRecordSets"], [zoneArn], undefined]),
    );
  });

  test.each(["redis/master", "redis/replica-1", "redis/replica-2"])("%s: sentinel.conf runs the part's step as client-reconfig-script; units, drop-in and settings", (node) => {
    const userData = userDataOf(json)[node];
    const conf = parseRedisConf(cloudConfigFiles(userData)[SENTINEL_CONF]);
    expect(directivesNamed(conf, "sentinel", "client-reconfig-script")).toEqual([["main", DNS_RECONFIG_SCRIPT]]);
    expect(DNS_RECONFIG_SCRIPT).toBe("/usr/local/lib/redis-node/parts/dns.sh");
    expect(nodeEnvVariable(userData, "BOOT_PARTS")).toMatch(/ dns /);
    const files = Object.fromEntries(parseCloudConfig(userData).write_files.map((f: { path: string; content: string }) => [f.path, unescapeTerraformTemplate(f.content)]));
    expect(files[DNS_DROP_IN]).toBe(`[Service]\nReadWritePaths=${DNS_TRIGGER_DIR}\nExecPaths=${DNS_RECONFIG_SCRIPT} /usr/bin/bash /usr/bin/mv\n`);
    expect(files["/etc/systemd/system/redis-dns.service"]).toContain(`ExecStart=${DNS_RECONFIG_SCRIPT} update\n`);
    expect(files["/etc/systemd/system/redis-dns.path"]).toContain(`PathChanged=${DNS_TRIGGER_DIR}\n`);
    expect(files["/etc/systemd/system/redis-dns.timer"]).toMatch(/^OnUnitInactiveSec=60s$/m);
    expect(nodeEnvVariable(userData, "DNS_WRITER_NAME")).toBe("writer.redis.redis.internal");
    expect(nodeEnvVariable(userData, "DNS_READER_NAME")).toBe("reader.redis.redis.internal");
    expect(nodeEnvVariable(userData, "DNS_TTL")).toBe("5");
    expect(nodeEnvVariable(userData, "DNS_ZONE_ID")).toBe(`\${aws_route53_zone.${zoneKey}.zone_id}`);
  });
});

describe("dns with a given zone, names and TTL", () => {
  const { json, group } = synthGroup({
    replicaCount: 1,
    sentinel: { dedicatedNodeCount: 3 },
    dns: { zoneName: "example.com", zoneId: "Z0123456789ABC", writerName: "Primary.Cache.Example.Com.", readerName: "replicas.cache.example.com", ttlSeconds: 30 },
  });

  test("no zone is made: the given one is looked up (its ARN for the grant)", () => {
    expect(resources(json, "aws_route53_zone")).toEqual({});
    const [key, zone] = Object.entries(dataSources(json, "aws_route53_zone"))[0];
    expect(zone).toEqual({ zone_id: "Z0123456789ABC", private_zone: true });
    expect(group.dnsZoneId).toBe("Z0123456789ABC");
    const arns = new Set(dnsStatements(json).flatMap((s) => s.resources));
    expect([...arns]).toEqual([`\${data.aws_route53_zone.${key}.arn}`]);
  });

  test("the names normalized (lowercase, no trailing dot) in the records, the grant and node.env; only sentinel nodes get the part", () => {
    const records = Object.values(resources(json, "aws_route53_record")).sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(records.map((r) => [r.zone_id, r.name, r.ttl, r.records])).toEqual([
      ["Z0123456789ABC", "primary.cache.example.com", 30, [eniIp(json, "master")]],
      ["Z0123456789ABC", "replicas.cache.example.com", 30, [eniIp(json, "replica-1")]],
    ]);
    const change = dnsStatements(json).filter((s) => s.actions[0] === "route53:ChangeResourceRecordSets");
    expect(change).toHaveLength(3);
    for (const s of change) expect(s.condition?.["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"]).toEqual(["primary.cache.example.com", "replicas.cache.example.com"]);
    const withPart = Object.entries(userDataOf(json)).filter(([, u]) => / dns( |$)/.test(nodeEnvVariable(u, "BOOT_PARTS") ?? "")).map(([n]) => n);
    expect(withPart.sort()).toEqual(["redis/sentinel-1", "redis/sentinel-2", "redis/sentinel-3"]);
  });
});

describe("dns off (the default)", () => {
  test("no zone, record, statement, part or script", () => {
    const { json, group } = synthGroup();
    expect(resources(json, "aws_route53_zone")).toEqual({});
    expect(resources(json, "aws_route53_record")).toEqual({});
    expect(dnsStatements(json)).toEqual([]);
    for (const userData of Object.values(userDataOf(json))) {
      expect(nodeEnvVariable(userData, "BOOT_PARTS")).not.toMatch(/dns/);
      expect(directivesNamed(parseRedisConf(cloudConfigFiles(userData)[SENTINEL_CONF]), "sentinel", "client-reconfig-script")).toEqual([]);
    }
    expect(group.writerName).toBeUndefined();
  });
});

describe("validation of dns", () => {
  test.each<{ case: string; props: Partial<RedisReplicationGroupProps>; id?: string; message: string }>([
    { case: "without Sentinel", props: { sentinel: { enabled: false }, dns: { zoneName: "redis.internal" } }, message: "dns needs Sentinel" },
    { case: "a TTL of 0", props: { dns: { zoneName: "redis.internal", ttlSeconds: 0 } }, message: "dns.ttlSeconds must be a whole number from 1 to 300, got 0" },
    { case: "a TTL of an hour", props: { dns: { zoneName: "redis.internal", ttlSeconds: 3600 } }, message: "dns.ttlSeconds must be a whole number from 1 to 300, got 3600" },
    { case: "a zone id that is an ARN", props: { dns: { zoneName: "redis.internal", zoneId: "arn:aws:route53:::hostedzone/Z1" } }, message: 'dns.zoneId "arn:aws:route53:::hostedzone/Z1" is invalid: expected a hosted zone id' },
    { case: "a one-label zone", props: { dns: { zoneName: "internal" } }, message: 'dns.zoneName "internal" is invalid: use a domain of at least two labels' },
    { case: "a zone name with a space", props: { dns: { zoneName: "my zone.internal" } }, message: 'dns.zoneName "my zone.internal" is invalid' },
    { case: "a writer outside the zone", props: { dns: { zoneName: "redis.internal", writerName: "writer.example.com" } }, message: 'dns.writerName "writer.example.com" is not inside the zone redis.internal' },
    { case: "the zone's apex as reader", props: { dns: { zoneName: "redis.internal", readerName: "redis.internal" } }, message: 'dns.readerName "redis.internal" is not inside the zone redis.internal' },
    { case: "an invalid reader", props: { dns: { zoneName: "redis.internal", readerName: "read_er.redis.internal" } }, message: 'dns.readerName "read_er.redis.internal" is invalid' },
    { case: "one name for both", props: { dns: { zoneName: "redis.internal", writerName: "x.redis.internal", readerName: "X.redis.internal." } }, message: "dns.writerName and dns.readerName are the same name (x.redis.internal)" },
    { case: "a group id that is no label, default names", props: { dns: { zoneName: "redis.internal" } }, id: "my_cache", message: 'the group\'s id "my_cache" is no DNS label' },
  ])("$case", ({ props, id, message }) => {
    expect(() => synthGroup(props, id)).toThrow(RedisReplicationValidationError);
    expect(() => synthGroup(props, id)).toThrow(message);
  });

  test("a group id that is no label is fine with both names given", () => {
    const { json } = synthGroup({ dns: { zoneName: "redis.internal", writerName: "w.redis.internal", readerName: "r.redis.internal" } }, "my_cache");
    expect(Object.values(resources(json, "aws_route53_record")).map((r) => r.name).sort()).toEqual(["r.redis.internal", "w.redis.internal"]);
  });
});
