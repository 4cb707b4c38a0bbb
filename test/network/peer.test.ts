import { TerraformVariable } from "cdktf";
import { RedisPeer } from "../../lib/network/peer";
import { newStack } from "../helpers";

describe("RedisPeer", () => {
  test.each([
    { case: "a literal security group id", peer: () => RedisPeer.securityGroupId("sg-0abc"), key: "sg-0abc", description: "sg-0abc", source: { referencedSecurityGroupId: "sg-0abc" } },
    { case: "a literal CIDR block", peer: () => RedisPeer.ipv4("10.20.0.0/16"), key: "cidr-10.20.0.0-16", description: "10.20.0.0/16", source: { cidrIpv4: "10.20.0.0/16" } },
    { case: "any IPv4", peer: () => RedisPeer.anyIpv4(), key: "any-ipv4", description: "anywhere", source: { cidrIpv4: "0.0.0.0/0" } },
    { case: "0.0.0.0/0 as a CIDR block", peer: () => RedisPeer.ipv4("0.0.0.0/0"), key: "any-ipv4", description: "0.0.0.0/0", source: { cidrIpv4: "0.0.0.0/0" } },
  ])("$case", ({ peer, key, description, source }) => {
    expect(peer().keyIn(newStack())).toBe(key);
    expect(peer().defaultDescription).toBe(description);
    expect(peer().toRuleSource()).toEqual(source);
  });

  test("a token CIDR and a token group of one expression keep different keys", () => {
    const stack = newStack();
    const value = new TerraformVariable(stack, "source", { type: "string" }).stringValue;
    const group = RedisPeer.securityGroupId(value).keyIn(stack);
    const cidr = RedisPeer.ipv4(value).keyIn(stack);
    expect(group).toMatch(/^ref-[0-9a-f]{10}$/);
    expect(cidr).toBe(`cidr-${group}`);
  });

  test("validation skips tokens and names the caller's argument", () => {
    const stack = newStack();
    const token = new TerraformVariable(stack, "source", { type: "string" }).stringValue;
    expect(() => RedisPeer.ipv4(token).validate(stack, "allowFrom")).not.toThrow();
    expect(() => RedisPeer.securityGroupId(token).validate(stack, "allowFrom")).not.toThrow();
    expect(() => RedisPeer.ipv4("10.0.0.0").validate(stack, "clients")).toThrow('clients "10.0.0.0" is not a valid CIDR');
  });
});
