import { readFileSync, rmSync } from "fs";
import { join } from "path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { App, TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { RedisReplicationValidationError, RedisSecurityGroup } from "../../lib";
import { RedisConnections, RedisPeer, RedisPortKind } from "../../lib/network";
import { logicalIdAt, newStack, pathOfLogicalId, ResourceRecord, resources, synthJson, TerraformJson } from "../helpers";

const INGRESS = "aws_vpc_security_group_ingress_rule";
const ingress = (json: TerraformJson): ResourceRecord => resources(json, INGRESS);
/** The construct id of each ingress rule, the part of its address a source names. */
const ruleIds = (json: TerraformJson): string[] => Object.keys(ingress(json)).map((id) => pathOfLogicalId(id).split("/").pop()!).sort();
const groupRef = (json: TerraformJson, path = "sg/group"): string => `\${aws_security_group.${logicalIdAt(json, "aws_security_group", path)}.id}`;

/** A Redis security group in a fresh stack; `configure` allows the sources a test is about. */
function synthGroup(configure: (sg: RedisSecurityGroup, stack: TerraformStack) => void, props: { redisPort?: number; sentinelPort?: number } = {}) {
  const stack = newStack();
  const sg = new RedisSecurityGroup(stack, "sg", { vpcId: "vpc-123", ...props });
  configure(sg, stack);
  return synthJson(stack);
}

/** Every rule of `after` is in `before` under the same address with the same body; returns the addresses that went away. */
function expectOthersUnchanged(before: ResourceRecord, after: ResourceRecord): string[] {
  for (const [address, body] of Object.entries(after)) {
    expect({ address, body: before[address] }).toEqual({ address, body });
  }
  return Object.keys(before).filter((address) => !(address in after));
}

describe("RedisConnections: removing a source leaves every other rule alone", () => {
  test("literal security group ids and CIDR blocks", () => {
    const all = ["sg-0aaa", "sg-0bbb", "sg-0ccc"];
    const cidrs = ["10.1.0.0/16", "10.2.0.0/16"];
    const allow = (groups: string[], blocks: string[]) =>
      synthGroup((sg) => {
        for (const id of groups) sg.allowFromSecurityGroup(id, `group ${id}`);
        for (const cidr of blocks) sg.allowFromCidr(cidr);
      });
    const before = ingress(allow(all, cidrs));
    const after = ingress(allow(["sg-0aaa", "sg-0ccc"], ["10.2.0.0/16"]));
    const gone = expectOthersUnchanged(before, after);
    expect(gone.map((address) => [before[address].referenced_security_group_id ?? before[address].cidr_ipv4, before[address].from_port]).sort()).toEqual(
      [["10.1.0.0/16", 26379], ["10.1.0.0/16", 6379], ["sg-0bbb", 26379], ["sg-0bbb", 6379]],
    );
  });

  test("security groups given as tokens of resources in the same stack", () => {
    const names = ["web", "worker", "cron"];
    const allow = (kept: string[]) =>
      synthGroup((sg, stack) => {
        for (const name of kept) sg.allowFromSecurityGroup(new SecurityGroup(stack, name, { name }).id, name);
      });
    const before = ingress(allow(names));
    const after = ingress(allow(["web", "cron"]));
    const gone = expectOthersUnchanged(before, after);
    expect(gone.map((address) => before[address].description).sort()).toEqual(["redis from worker", "sentinel from worker"]);
    expect(Object.keys(after)).toHaveLength(2 + 2 * 2);
  });

  test("the order of the calls does not matter", () => {
    const sources = ["sg-0aaa", "10.1.0.0/16", "sg-0bbb"];
    const allow = (order: string[]) =>
      synthGroup((sg) => {
        for (const source of order) source.startsWith("sg-") ? sg.allowFromSecurityGroup(source) : sg.allowFromCidr(source);
      });
    expect(ingress(allow([...sources].reverse()))).toEqual(ingress(allow(sources)));
  });
});

describe("RedisConnections: a source allowed again is the same rule", () => {
  test("the same CIDR block through two calls and through allowFrom", () => {
    const json = synthGroup((sg) => {
      sg.allowFromCidr("10.20.0.0/16", "office VPN");
      sg.allowFromCidr("10.20.0.0/16", "again");
      sg.connections.allowFrom(RedisPeer.ipv4("10.20.0.0/16"), { ports: [RedisPortKind.SENTINEL] });
    });
    const rules = Object.values(ingress(json)).filter((r) => r.cidr_ipv4 === "10.20.0.0/16");
    expect(rules.map((r) => [r.from_port, r.description]).sort()).toEqual([
      [26379, "sentinel from office VPN"],
      [6379, "redis from office VPN"],
    ]);
  });

  test("the same security group token twice", () => {
    let ref = "";
    const json = synthGroup((sg, stack) => {
      const app = new SecurityGroup(stack, "app", {});
      ref = `\${aws_security_group.${stack.getLogicalId(app)}.id}`;
      sg.allowFromSecurityGroup(app.id);
      sg.allowFromSecurityGroup(app.id, "app servers");
    });
    const rules = Object.values(ingress(json)).filter((r) => r.referenced_security_group_id === ref);
    expect(rules.map((r) => r.from_port).sort()).toEqual([26379, 6379]);
  });

  test("anyIpv4 and 0.0.0.0/0 are one source", () => {
    const json = synthGroup((sg) => {
      sg.allowFromAnyIpv4();
      sg.connections.allowFrom(RedisPeer.ipv4("0.0.0.0/0"));
    });
    expect(ruleIds(json).filter((id) => id.includes("any-ipv4"))).toEqual(["ingress-redis-any-ipv4", "ingress-sentinel-any-ipv4"]);
  });

  test("the group itself joins the self rules", () => {
    const json = synthGroup((sg) => sg.allowFromSecurityGroup(sg.securityGroupId));
    expect(ruleIds(json)).toEqual(["ingress-redis-self", "ingress-sentinel-self"]);
  });
});

describe("RedisConnections: rule addresses and bodies", () => {
  test("the self rules keep their addresses and bodies", () => {
    const json = synthGroup(() => {});
    const self = groupRef(json);
    for (const [kind, port] of [["redis", 6379], ["sentinel", 26379]] as const) {
      expect(ingress(json)[logicalIdAt(json, INGRESS, `sg/ingress-${kind}-self`)]).toEqual({
        security_group_id: self,
        referenced_security_group_id: self,
        ip_protocol: "tcp",
        from_port: port,
        to_port: port,
        description: `${kind} from the Redis nodes themselves`,
      });
    }
  });

  test("each source names its rules: literal id, CIDR, any IPv4, token", () => {
    const json = synthGroup((sg, stack) => {
      sg.allowFromSecurityGroup("sg-0abc");
      sg.allowFromCidr("10.20.0.0/16");
      sg.allowFromAnyIpv4();
      sg.allowFromSecurityGroup(new SecurityGroup(stack, "app", {}).id);
    });
    // cdktf drops "." from logical ids; the construct path keeps it.
    expect(ruleIds(json)).toEqual(
      expect.arrayContaining(["ingress-redis-sg-0abc", "ingress-sentinel-cidr-102000-16", "ingress-redis-any-ipv4", "ingress-redis-self"]),
    );
    expect(ruleIds(json).filter((id) => /^ingress-(redis|sentinel)-ref-[0-9a-f]{10}$/.test(id))).toHaveLength(2);
    expect(ruleIds(json)).toHaveLength(5 * 2);
  });

  test("ports: [SENTINEL] makes only the Sentinel rule, with the group's custom port", () => {
    const json = synthGroup((sg) => sg.connections.allowFrom(RedisPeer.ipv4("10.9.0.0/16"), { ports: [RedisPortKind.SENTINEL], description: "monitoring" }), {
      redisPort: 7000,
      sentinelPort: 27000,
    });
    const rules = Object.values(ingress(json)).filter((r) => r.cidr_ipv4 === "10.9.0.0/16");
    expect(rules).toEqual([
      { security_group_id: groupRef(json), cidr_ipv4: "10.9.0.0/16", ip_protocol: "tcp", from_port: 27000, to_port: 27000, description: "sentinel from monitoring" },
    ]);
  });

  test("custom port numbers in every rule", () => {
    const json = synthGroup((sg) => sg.allowFromSecurityGroup("sg-0abc", "app"), { redisPort: 7000, sentinelPort: 27000 });
    const byPort = Object.values(ingress(json))
      .filter((r) => r.referenced_security_group_id === "sg-0abc")
      .map((r) => [r.description, r.from_port, r.to_port])
      .sort();
    expect(byPort).toEqual([["redis from app", 7000, 7000], ["sentinel from app", 27000, 27000]]);
  });

  test("portOf and the group id", () => {
    const stack = newStack();
    const sg = new RedisSecurityGroup(stack, "sg", { vpcId: "vpc-123", redisPort: 7000, sentinelPort: 27000 });
    expect(sg.connections.portOf(RedisPortKind.REDIS)).toBe(7000);
    expect(sg.connections.portOf(RedisPortKind.SENTINEL)).toBe(27000);
    expect(sg.connections.securityGroupId).toBe(sg.securityGroupId);
  });
});

describe("RedisConnections across stacks", () => {
  /** An app with a clients stack (the application's group) and a redis stack (the group that lets it in). */
  function twoStacks(configure: (clients: SecurityGroup, redis: TerraformStack) => void): { app: App; key: string; redis: TerraformJson } {
    const app = Testing.app();
    const clientsStack = new TerraformStack(app, "clients");
    new AwsProvider(clientsStack, "aws", { region: "us-east-1" });
    const redisStack = new TerraformStack(app, "redis");
    new AwsProvider(redisStack, "aws", { region: "us-east-1" });
    configure(new SecurityGroup(clientsStack, "app-clients", {}), redisStack);
    // A full app synth: only it turns a cross-stack token into a remote state reference.
    app.synth();
    const redis = JSON.parse(readFileSync(join(app.outdir, "stacks", "redis", "cdk.tf.json"), "utf8")) as TerraformJson;
    rmSync(app.outdir, { recursive: true, force: true });
    const ids = Object.keys(ingress(redis)).map((id) => pathOfLogicalId(id).split("/").pop()!);
    const key = ids.map((id) => /^ingress-redis-(ref-[0-9a-f]{10})$/.exec(id)?.[1]).find(Boolean) ?? "";
    return { app, key, redis };
  }

  test("a group of another stack gets a stable key and synthesizes as a remote state reference", () => {
    const first = twoStacks((clients, redis) => new RedisSecurityGroup(redis, "sg", { vpcId: "vpc-123" }).allowFromSecurityGroup(clients.id, "app"));
    const second = twoStacks((clients, redis) => {
      const sg = new RedisSecurityGroup(redis, "sg", { vpcId: "vpc-123" });
      sg.allowFromCidr("10.1.0.0/16");
      sg.allowFromSecurityGroup(clients.id, "app");
    });
    expect(first.key).toMatch(/^ref-[0-9a-f]{10}$/);
    expect(second.key).toBe(first.key);
    const rule = Object.values(ingress(first.redis)).find((r) => r.description === "redis from app")!;
    expect(rule.referenced_security_group_id).toMatch(/^\$\{data\.terraform_remote_state\.[^}]+\}$/);
  });

  test("rules on a group imported by its id into another stack", () => {
    let scopePath = "";
    const { redis } = twoStacks((clients, redisStack) => {
      // Here the clients' group is the one that lets the Redis stack's group in.
      const owner = new Construct(redisStack, "clients-ingress");
      scopePath = owner.node.id;
      const connections = new RedisConnections(owner, { securityGroupId: clients.id, ports: { redis: 6379, sentinel: 26379 } });
      connections.allowFromCidr("10.1.0.0/16");
      connections.allowFromCidr("10.1.0.0/16");
    });
    const rules = Object.entries(ingress(redis));
    expect(rules.map(([id]) => pathOfLogicalId(id)).sort()).toEqual([
      `${scopePath}/ingress-redis-cidr-10100-16`,
      `${scopePath}/ingress-sentinel-cidr-10100-16`,
    ]);
    for (const [, rule] of rules) expect(rule.security_group_id).toMatch(/^\$\{data\.terraform_remote_state\.[^}]+\}$/);
  });
});

describe("RedisConnections validation", () => {
  test.each([
    {
      case: "a CIDR block with host bits",
      allow: (sg: RedisSecurityGroup) => sg.allowFromCidr("10.0.0.1/16"),
      message: '[test/sg] allowFromCidr "10.0.0.1/16" is not a valid CIDR: host bits are set; the network address is 10.0.0.0/16',
    },
    {
      case: "a security group name instead of its id",
      allow: (sg: RedisSecurityGroup) => sg.allowFromSecurityGroup("app-servers"),
      message: '[test/sg] allowFromSecurityGroup "app-servers" is invalid: expected an id such as sg-0123456789abcdef0',
    },
    {
      case: "a peer with a bad CIDR, named by allowFrom",
      allow: (sg: RedisSecurityGroup) => sg.connections.allowFrom(RedisPeer.ipv4("10.0.0.0/33")),
      message: '[test/sg] allowFrom "10.0.0.0/33" is not a valid CIDR: the prefix length must be 0-32',
    },
    {
      case: "no port kind",
      allow: (sg: RedisSecurityGroup) => sg.connections.allowFrom(RedisPeer.ipv4("10.0.0.0/8"), { ports: [] }),
      message: "[test/sg] ports must name at least one entry, got an empty list",
    },
  ])("$case", ({ allow, message }) => {
    const stack = newStack();
    const sg = new RedisSecurityGroup(stack, "sg", { vpcId: "vpc-123" });
    expect(() => allow(sg)).toThrow(RedisReplicationValidationError);
    expect(() => allow(sg)).toThrow(message);
    expect(ruleIds(synthJson(stack))).toEqual(["ingress-redis-self", "ingress-sentinel-self"]);
  });

  test("one port for two kinds would ask AWS for duplicate rules", () => {
    const stack = newStack();
    expect(() => new RedisConnections(stack, { securityGroupId: "sg-0abc", ports: { redis: 7000, sentinel: 7000 } })).toThrow(
      "ports.sentinel and ports.redis must differ, both are 7000",
    );
  });
});
