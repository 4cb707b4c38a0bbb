import { IConstruct } from "constructs";

/**
 * Thrown at synth time for props this library rejects, so users can tell a
 * validation error from a crash. The message names the construct path and
 * every problem found (one a line when there are several).
 */
export class RedisReplicationValidationError extends Error {
  /** Each problem on its own, without the construct path. */
  public readonly problems: string[];

  constructor(scope: IConstruct, problems: string | string[]) {
    const list = typeof problems === "string" ? [problems] : problems;
    const text = list.length === 1 ? list[0] : `${list.length} problems:\n${list.map((p) => `  - ${p}`).join("\n")}`;
    super(`[${scope.node.path}] ${text}`);
    this.name = "RedisReplicationValidationError";
    this.problems = list;
  }
}
