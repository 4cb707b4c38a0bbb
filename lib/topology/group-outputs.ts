import { TerraformOutput, TerraformOutputConfig } from "cdktf";
import { IConstruct } from "constructs";
import { RedisReplicationValidationError } from "../errors";

/**
 * The Terraform name of a group's outputs: the group's path under its stack,
 * joined with "-", then the output's name ("cache-master-address",
 * "tenant-a-cache-master-address" for a group "cache" inside "tenant-a").
 * Stable and readable, so `terraform output`, `cdktf output` and other
 * stacks can rely on it; cdktf's own would end in a hash of the path.
 */
export function groupOutputPrefix(group: IConstruct, stack: IConstruct): string {
  return group.node.scopes
    .slice(stack.node.scopes.length)
    .map((c) => c.node.id)
    .join("-")
    .replace(/[^A-Za-z0-9_-]/g, "-");
}

/** Output names taken by the groups of each stack, and by which group. */
const taken = new WeakMap<IConstruct, Map<string, string>>();

/**
 * Adds the outputs under their stable names. Two groups whose paths join to
 * the same text ("a-b/cache" and "a/b-cache") would overwrite each other's
 * outputs without a word: that is a RedisReplicationValidationError instead.
 */
export function addGroupOutputs(group: IConstruct, stack: IConstruct, outputs: ReadonlyArray<readonly [string, TerraformOutputConfig]>): void {
  const prefix = groupOutputPrefix(group, stack);
  const names = taken.get(stack) ?? new Map<string, string>();
  taken.set(stack, names);
  const clashes = outputs.map(([name]) => `${prefix}-${name}`).filter((name) => names.has(name));
  if (clashes.length > 0) {
    const other = names.get(clashes[0]);
    throw new RedisReplicationValidationError(
      group,
      `the outputs of this group and of ${other} would have the same names (${clashes.join(", ")}): give one of the groups (or its parent) another id, or set outputs: false on one`,
    );
  }
  for (const [name, config] of outputs) {
    new TerraformOutput(group, name, config).overrideLogicalId(`${prefix}-${name}`);
    names.set(`${prefix}-${name}`, group.node.path);
  }
}
