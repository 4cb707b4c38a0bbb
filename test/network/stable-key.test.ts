import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { createHash } from "crypto";
import { stableKeyOf } from "../../lib/private/stable-key";
import { newStack } from "../helpers";

const sha10 = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 10);

describe("stableKeyOf", () => {
  test("keeps a literal readable, without the construct path separator", () => {
    const stack = newStack();
    expect(stableKeyOf(stack, "sg-0abc")).toBe("sg-0abc");
    expect(stableKeyOf(stack, "10.20.0.0/16")).toBe("10.20.0.0-16");
  });

  test("names a token by a digest of the Terraform expression it stands for", () => {
    const stack = newStack();
    const app = new SecurityGroup(stack, "app", {});
    const key = stableKeyOf(stack, app.id);
    expect(key).toMatch(/^ref-[0-9a-f]{10}$/);
    expect(key).toBe(`ref-${sha10(`\${aws_security_group.${stack.getLogicalId(app)}.id}`)}`);
    expect(key).not.toContain("TOKEN");
  });

  test("the same token twice, and a second token for the same attribute, give the same key", () => {
    const stack = newStack();
    const app = new SecurityGroup(stack, "app", {});
    const token = app.id;
    expect(stableKeyOf(stack, token)).toBe(stableKeyOf(stack, token));
    expect(stableKeyOf(stack, app.id)).toBe(stableKeyOf(stack, token));
  });

  test("two resources, or a resource and a variable, give different keys", () => {
    const stack = newStack();
    const keys = [
      stableKeyOf(stack, new SecurityGroup(stack, "app", {}).id),
      stableKeyOf(stack, new SecurityGroup(stack, "batch", {}).id),
      stableKeyOf(stack, new TerraformVariable(stack, "clients", { type: "string" }).stringValue),
    ];
    expect(new Set(keys).size).toBe(3);
  });

  test("does not depend on what was resolved before, nor on the stack asking", () => {
    const app = Testing.app();
    const origin = new TerraformStack(app, "origin");
    const consumer = new TerraformStack(app, "consumer");
    const group = new SecurityGroup(origin, "clients", {});
    const first = stableKeyOf(consumer, group.id);
    stableKeyOf(consumer, new SecurityGroup(consumer, "other", {}).id);
    expect(stableKeyOf(consumer, group.id)).toBe(first);
    expect(stableKeyOf(origin, group.id)).toBe(first);
  });
});
