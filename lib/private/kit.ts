import { TerraformStack } from "cdktf";
import { IConstruct } from "constructs";
import { RedisReplicationValidationError } from "../errors";

// cdktf and its fork cdktn (CDK Terrain) share their stack's marker symbol,
// so a stack of the other kit passes TerraformStack.of and fails only at
// synth, deep inside the kit (cdktn calls methods that cdktf's resources do
// not have). Their jsii type information tells them apart:
// "cdktf.TerraformStack", "cdktn.TerraformStack". A second copy of the same
// release (two installs in node_modules) synthesizes alike, since the
// kit's tokens and markers are global; a copy of another release may not.

const JSII_RTTI = Symbol.for("jsii.rtti");

/** The kits this library is built for, each as its own package from the same source (imports rewritten). */
const KITS = ["cdktf", "cdktn"];

/** This library's package for a kit ("cdktn" -> "cdktn-redis-replication"); undefined for a kit it is not built for. */
export function packageForKit(kit: string): string | undefined {
  return KITS.includes(kit) ? `${kit}-redis-replication` : undefined;
}

export interface Kit {
  /** "cdktf" or "cdktn". */
  readonly name: string;
  readonly version: string;
}

/** The kit whose TerraformStack class `type` is or extends; undefined for anything else. */
export function kitOfStackClass(type: unknown): Kit | undefined {
  for (let c = type; typeof c === "function"; c = Object.getPrototypeOf(c)) {
    if (!Object.prototype.hasOwnProperty.call(c, JSII_RTTI)) continue;
    const rtti = (c as unknown as Record<symbol, { fqn?: unknown; version?: unknown }>)[JSII_RTTI];
    const fqn = typeof rtti?.fqn === "string" ? rtti.fqn : "";
    if (fqn.endsWith(".TerraformStack")) return { name: fqn.slice(0, -".TerraformStack".length), version: String(rtti.version) };
  }
  return undefined;
}

/** The kit this library was built against. */
export const OUR_KIT: Kit = kitOfStackClass(TerraformStack) ?? { name: "cdktf", version: "unknown" };

/**
 * The stack that holds `scope`, made with this library's kit at its
 * release; otherwise a RedisReplicationValidationError that names the
 * package to use, or the second copy to remove.
 */
export function stackOfOurKit(scope: IConstruct): IConstruct {
  const stack = [...scope.node.scopes].reverse().find((c) => TerraformStack.isStack(c) || kitOfStackClass(c.constructor) !== undefined);
  if (stack instanceof TerraformStack) return stack;
  const ours = `${OUR_KIT.name} ${OUR_KIT.version}`;
  const ourPackage = packageForKit(OUR_KIT.name);
  if (stack === undefined) {
    throw new RedisReplicationValidationError(scope, `is not inside a TerraformStack: create it in a stack of ${OUR_KIT.name} (${ourPackage} is built for ${ours})`);
  }
  const theirs = kitOfStackClass(stack.constructor);
  if (theirs !== undefined && theirs.name !== OUR_KIT.name) {
    const theirPackage = packageForKit(theirs.name);
    throw new RedisReplicationValidationError(
      scope,
      `the stack "${stack.node.path}" is a ${theirs.name} ${theirs.version} stack, and ${ourPackage} is built for ${OUR_KIT.name}: ` +
        (theirPackage ? `in a ${theirs.name} app, use the package ${theirPackage} instead` : `use it in a ${OUR_KIT.name} app`),
    );
  }
  if (theirs?.version === OUR_KIT.version) return stack;
  throw new RedisReplicationValidationError(
    scope,
    `the stack "${stack.node.path}" comes from another copy of ${OUR_KIT.name} (${theirs?.version ?? "unknown version"}) than the one ${ourPackage} loads (${OUR_KIT.version}): ` +
      `install ${OUR_KIT.name} once in the app, as the peer of ${ourPackage} (npm ls ${OUR_KIT.name}; npm dedupe)`,
  );
}
