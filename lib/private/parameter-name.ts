import { IConstruct } from "constructs";

/** An SSM parameter name under the library's prefix, from a construct path: "/redis-replication/<path>/<leaf>". */
export function parameterNameOf(scope: IConstruct, leaf: string): string {
  return `/redis-replication/${scope.node.path.replace(/[^A-Za-z0-9_./-]/g, "-")}/${leaf}`;
}
