// A group in a stack of another kit fails when it is created, with an error
// that names the package for that kit, instead of a TypeError from deep
// inside the kit at synth. "Another copy" is this kit loaded a second time,
// as a second install in node_modules would be: its own classes, the same
// stack marker. Stacks of the other kit, or of another release, are that
// copy's stack class carrying their type information (cdktn's stack shares
// cdktf's marker and differs in its jsii fqn). With the real other kit:
// test-cdktn/wrong-kit.test.ts, run by `npm run test:cdktn`.
import { readFileSync } from "fs";
import { join } from "path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { RedisReplicationGroup, RedisReplicationValidationError } from "../../lib";
import { kitOfStackClass, OUR_KIT, packageForKit } from "../../lib/private/kit";

type Kit = typeof import("cdktf");
const PROPS = { vpcId: "vpc-1", subnetIds: ["subnet-a"] };
const OTHER_KIT = OUR_KIT.name === "cdktf" ? "cdktn" : "cdktf";

/** The kit loaded again, as a second copy in node_modules would be: its own classes, the same stack marker. */
function anotherCopy(): Kit {
  let kit: Kit | undefined;
  jest.isolateModules(() => {
    kit = jest.requireActual<Kit>("cdktf");
  });
  return kit!;
}

function errorOf(create: () => unknown): Error {
  try {
    create();
  } catch (error) {
    return error as Error;
  }
  throw new Error("no error");
}

test("this library's kit is read from its own TerraformStack", () => {
  expect(OUR_KIT.name).toMatch(/^cdkt[fn]$/);
  expect(OUR_KIT.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(kitOfStackClass(class MyStack extends TerraformStack {})).toEqual(OUR_KIT);
  expect(kitOfStackClass(App)).toBeUndefined();
  expect(kitOfStackClass(Construct)).toBeUndefined();
  // The package being tested is the one the errors name for this kit.
  expect(packageForKit(OUR_KIT.name)).toBe(JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")).name);
});

/** A stack class of `kit` that carries the jsii type information of another kit or release. */
function stackClassOf(kit: Kit, fqn: string, version: string) {
  class OtherStack extends kit.TerraformStack {}
  Object.defineProperty(OtherStack, Symbol.for("jsii.rtti"), { value: { fqn, version } });
  return class UsersStack extends OtherStack {};
}

describe("a stack of another copy of the kit", () => {
  const other = anotherCopy();
  test("the copy is a different module whose stacks pass our TerraformStack.isStack", () => {
    expect(other.TerraformStack).not.toBe(TerraformStack);
    expect(TerraformStack.isStack(new other.TerraformStack(new other.App(), "s"))).toBe(true);
  });

  test("of the same release: the group synthesizes as in a stack of ours", () => {
    const synth = (kit: Kit) => {
      const stack = new kit.TerraformStack(kit.Testing.app(), "app");
      new AwsProvider(stack, "aws", { region: "eu-west-1" });
      new RedisReplicationGroup(stack, "cache", PROPS);
      return JSON.parse(kit.Testing.synth(stack));
    };
    const theirs = synth(other);
    expect(theirs.output["cache-master-address"]).toBeDefined();
    expect(theirs).toEqual(synth({ TerraformStack, Testing } as Kit));
  });

  test.each([
    { case: "a group", create: (stack: Construct) => new RedisReplicationGroup(stack, "cache", PROPS) },
    { case: "an imported group", create: (stack: Construct) => RedisReplicationGroup.fromAttributes(stack, "cache", { securityGroupId: "sg-1", passwordSecretArn: "arn" }) },
  ])("of another release, $case: a validation error that says to install the kit once", ({ create }) => {
    const OlderStack = stackClassOf(other, `${OUR_KIT.name}.TerraformStack`, "0.20.0");
    const error = errorOf(() => create(new Construct(new OlderStack(new other.App(), "other"), "app")));
    expect(error).toBeInstanceOf(RedisReplicationValidationError);
    expect(error.message).toBe(
      `[other/app/cache] the stack "other" comes from another copy of ${OUR_KIT.name} (0.20.0) than the one ${packageForKit(OUR_KIT.name)} loads (${OUR_KIT.version}): ` +
        `install ${OUR_KIT.name} once in the app, as the peer of ${packageForKit(OUR_KIT.name)} (npm ls ${OUR_KIT.name}; npm dedupe)`,
    );
  });
});

test("a stack of the other kit: a validation error that names the package for that kit", () => {
  // What the other kit's stack class carries (cdktn 0.24: "cdktn.TerraformStack").
  const other = anotherCopy();
  const UsersStack = stackClassOf(other, `${OTHER_KIT}.TerraformStack`, "0.24.0");
  const error = errorOf(() => new RedisReplicationGroup(new UsersStack(new other.App(), "web"), "cache", PROPS));
  expect(error).toBeInstanceOf(RedisReplicationValidationError);
  expect(error.message).toBe(
    `[web/cache] the stack "web" is a ${OTHER_KIT} 0.24.0 stack, and ${packageForKit(OUR_KIT.name)} is built for ${OUR_KIT.name}: ` +
      `in a ${OTHER_KIT} app, use the package ${packageForKit(OTHER_KIT)} instead`,
  );
});

test("no stack at all: a validation error, not the kit's lookup error", () => {
  const error = errorOf(() => new RedisReplicationGroup(new App(), "cache", PROPS));
  expect(error).toBeInstanceOf(RedisReplicationValidationError);
  expect(error.message).toBe(
    `[cache] is not inside a TerraformStack: create it in a stack of ${OUR_KIT.name} (${packageForKit(OUR_KIT.name)} is built for ${OUR_KIT.name} ${OUR_KIT.version})`,
  );
});
