import { RedisPeer, RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError, RedisSecurityGroup, RedisSecurityGroupProps } from "../../lib";
import { newStack, resources, synthJson, TerraformJson } from "../helpers";

type Rule = TerraformJson;
const ingress = (json: TerraformJson): Rule[] => Object.values(resources(json, "aws_vpc_security_group_ingress_rule"));
const egress = (json: TerraformJson): Rule[] => Object.values(resources(json, "aws_vpc_security_group_egress_rule"));
/** "port source" for each rule, source being a CIDR or a referenced group. */
const summary = (rules: Rule[]): string[] =>
  rules.map((r) => `${r.ip_protocol} ${r.from_port ?? "*"}-${r.to_port ?? "*"} ${r.cidr_ipv4 ?? r.referenced_security_group_id}`).sort();

function build(props: Partial<RedisSecurityGroupProps> = {}, configure: (sg: RedisSecurityGroup) => void = () => {}) {
  const stack = newStack();
  const sg = new RedisSecurityGroup(stack, "sg", { vpcId: "vpc-123", ...props });
  configure(sg);
  const json = synthJson(stack);
  const self = `\${aws_security_group.${Object.keys(resources(json, "aws_security_group"))[0]}.id}`;
  return { json, self };
}

describe("RedisSecurityGroup", () => {
  test("creates one group in the VPC, with no inline rules", () => {
    const { json } = build();
    const groups = Object.values(resources(json, "aws_security_group"));
    expect(groups).toHaveLength(1);
    expect(groups[0].vpc_id).toBe("vpc-123");
    expect(groups[0].ingress).toBeUndefined();
    expect(groups[0].egress).toBeUndefined();
  });

  test("lets the nodes reach each other on the Redis and Sentinel ports, and nothing else in", () => {
    const { json, self } = build();
    expect(summary(ingress(json))).toEqual([`tcp 26379-26379 ${self}`, `tcp 6379-6379 ${self}`]);
    for (const rule of ingress(json)) expect(rule.security_group_id).toBe(self);
  });

  test("adds both ports for each named security group and CIDR block", () => {
    const { json, self } = build({}, (sg) => {
      sg.allowFromSecurityGroup("sg-app", "app servers");
      sg.allowFromCidr("10.20.0.0/16");
    });
    expect(summary(ingress(json))).toEqual(
      [
        `tcp 26379-26379 ${self}`,
        `tcp 6379-6379 ${self}`,
        "tcp 26379-26379 sg-app",
        "tcp 6379-6379 sg-app",
        "tcp 26379-26379 10.20.0.0/16",
        "tcp 6379-6379 10.20.0.0/16",
      ].sort(),
    );
    expect(ingress(json).filter((r) => r.referenced_security_group_id === "sg-app").map((r) => r.description)).toEqual(
      expect.arrayContaining([expect.stringContaining("app servers")]),
    );
  });

  test("never opens 0.0.0.0/0 unless asked by name", () => {
    const closed = build({}, (sg) => sg.allowFromCidr("10.0.0.0/8"));
    expect(ingress(closed.json).filter((r) => r.cidr_ipv4 === "0.0.0.0/0")).toEqual([]);
    const open = build({}, (sg) => sg.allowFromAnyIpv4());
    expect(summary(ingress(open.json).filter((r) => r.cidr_ipv4 === "0.0.0.0/0"))).toEqual([
      "tcp 26379-26379 0.0.0.0/0",
      "tcp 6379-6379 0.0.0.0/0",
    ]);
  });

  test("uses custom ports in every rule", () => {
    const { json, self } = build({ redisPort: 7000, sentinelPort: 27000 }, (sg) => sg.allowFromCidr("10.1.0.0/16"));
    expect(summary(ingress(json))).toEqual([`tcp 27000-27000 ${self}`, `tcp 7000-7000 ${self}`, "tcp 27000-27000 10.1.0.0/16", "tcp 7000-7000 10.1.0.0/16"].sort());
    expect(summary(egress(json))).toEqual(expect.arrayContaining([`tcp 7000-7000 ${self}`, `tcp 27000-27000 ${self}`]));
  });

  test("egress by default: HTTP(S) anywhere and the Redis ports of the group only", () => {
    const { json, self } = build();
    expect(summary(egress(json))).toEqual(
      ["tcp 443-443 0.0.0.0/0", "tcp 80-80 0.0.0.0/0", `tcp 26379-26379 ${self}`, `tcp 6379-6379 ${self}`].sort(),
    );
  });

  test("egress to VPC endpoints only: the AWS APIs through the endpoints' group, no package mirror, nothing anywhere", () => {
    const { json, self } = build({ egress: { awsApis: [RedisPeer.securityGroupId("sg-0e0d0e0d0e0d0e0d0")], packageMirrors: [] } });
    expect(summary(egress(json))).toEqual(["tcp 443-443 sg-0e0d0e0d0e0d0e0d0", `tcp 26379-26379 ${self}`, `tcp 6379-6379 ${self}`].sort());
    const [endpoints] = egress(json).filter((r) => r.referenced_security_group_id === "sg-0e0d0e0d0e0d0e0d0");
    expect(endpoints.description).toBe("AWS APIs (SSM, secret store, Session Manager)");
  });

  test("egress to a package mirror in the VPC, AWS APIs anywhere: one rule per destination and port, purposes named", () => {
    const { json } = build({ egress: { packageMirrors: [RedisPeer.ipv4("10.0.5.0/24")] } });
    const byTarget = Object.fromEntries(egress(json).filter((r) => r.cidr_ipv4).map((r) => [`${r.from_port} ${r.cidr_ipv4}`, r.description]));
    expect(byTarget).toEqual({
      "80 10.0.5.0/24": "apt package mirrors",
      "443 10.0.5.0/24": "apt over TLS",
      "443 0.0.0.0/0": "AWS APIs (SSM, secret store, Session Manager)",
    });
  });

  test("egress: a destination that serves two purposes on 443 is one rule; the default keeps the addresses egress-80 and egress-443", () => {
    const shared = build({ egress: { awsApis: [RedisPeer.ipv4("10.0.9.0/24")], packageMirrors: [RedisPeer.ipv4("10.0.9.0/24")] } }).json;
    expect(egress(shared).filter((r) => r.from_port === 443 && r.cidr_ipv4).map((r) => [r.cidr_ipv4, r.description]))
      .toEqual([["10.0.9.0/24", "AWS APIs (SSM, secret store, Session Manager), apt over TLS"]]);
    const ids = Object.keys(resources(build().json, "aws_vpc_security_group_egress_rule"));
    expect(ids.filter((id) => /^sg_egress-(80|443)_[0-9A-F]{8}$/.test(id))).toHaveLength(2);
  });

  test("egress: refused with allowAllOutbound, and a destination that is not a group id or CIDR is named", () => {
    expect(() => build({ allowAllOutbound: true, egress: { packageMirrors: [] } })).toThrow(/allowAllOutbound and egress exclude each other/);
    expect(() => build({ egress: { awsApis: [RedisPeer.securityGroupId("vpce-0123")] } })).toThrow(RedisReplicationValidationError);
    expect(() => build({ egress: { awsApis: [RedisPeer.securityGroupId("vpce-0123")] } })).toThrow(/egress\.awsApis/);
    expect(() => build({ egress: { packageMirrors: [RedisPeer.ipv4("10.0.5.1/24")] } })).toThrow(/egress\.packageMirrors/);
  });

  test("the group passes egress to its security group", () => {
    const stack = newStack();
    const props: RedisReplicationGroupProps = { vpcId: "vpc-123", subnetIds: ["subnet-a"], egress: { awsApis: [RedisPeer.securityGroupId("sg-0e0d0e0d0e0d0e0d0")], packageMirrors: [] } };
    new RedisReplicationGroup(stack, "redis", props);
    const json = synthJson(stack);
    expect(egress(json).filter((r) => r.cidr_ipv4 || r.referenced_security_group_id === "sg-0e0d0e0d0e0d0e0d0").map((r) => `${r.from_port} ${r.cidr_ipv4 ?? r.referenced_security_group_id}`))
      .toEqual(["443 sg-0e0d0e0d0e0d0e0d0"]);
  });

  test("egress with allowAllOutbound: one rule for all protocols", () => {
    const { json, self } = build({ allowAllOutbound: true });
    expect(summary(egress(json))).toEqual(["-1 *-* 0.0.0.0/0", `tcp 26379-26379 ${self}`, `tcp 6379-6379 ${self}`].sort());
  });
});

describe("RedisReplicationGroup networking props", () => {
  test("allowedSecurityGroupIds and allowedCidrs become ingress rules on both ports", () => {
    const stack = newStack();
    const group = new RedisReplicationGroup(stack, "redis", {
      vpcId: "vpc-123",
      subnetIds: ["subnet-a"],
      allowedSecurityGroupIds: ["sg-web"],
      allowedCidrs: ["192.168.0.0/24"],
    });
    group.allowFromSecurityGroup("sg-late");
    const sources = summary(ingress(synthJson(stack)));
    for (const source of ["sg-web", "192.168.0.0/24", "sg-late"]) {
      expect(sources).toEqual(expect.arrayContaining([`tcp 6379-6379 ${source}`, `tcp 26379-26379 ${source}`]));
    }
    expect(sources.filter((s) => s.endsWith("0.0.0.0/0"))).toEqual([]);
  });

  test("the nodes' network interfaces are in the group", () => {
    const stack = newStack();
    new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-123", subnetIds: ["subnet-a"] });
    const json = synthJson(stack);
    const self = `\${aws_security_group.${Object.keys(resources(json, "aws_security_group"))[0]}.id}`;
    const enis = Object.values(resources(json, "aws_network_interface"));
    expect(enis).toHaveLength(3);
    for (const eni of enis) expect(eni.security_groups).toEqual([self]);
  });
});
