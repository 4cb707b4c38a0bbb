import { IConstruct } from "constructs";

/** An SSM parameter name under the library's prefix, from a construct path: "/redis-replication/<path>/<leaf>". */
export function parameterNameOf(scope: IConstruct, leaf: string): string {
  return `/redis-replication/${scope.node.path.replace(/[^A-Za-z0-9_./-]/g, "-")}/${leaf}`;
}

/**
 * An AWS resource name of a group: "redis-replication-<group path>", every
 * character outside `allowed` (a character class such as "A-Za-z0-9_-")
 * replaced by "-", cut to `maxLength`.
 */
export function awsNameOf(scope: IConstruct, allowed: string, maxLength: number): string {
  return `redis-replication-${scope.node.path}`.replace(new RegExp(`[^${allowed}]`, "g"), "-").slice(0, maxLength);
}
