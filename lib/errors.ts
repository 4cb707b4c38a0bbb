import { IConstruct } from "constructs";

/**
 * Thrown at synth time for props this library rejects, so users can tell a
 * validation error from a crash. The message names the construct path.
 */
export class RedisReplicationValidationError extends Error {
  constructor(scope: IConstruct, message: string) {
    super(`[${scope.node.path}] ${message}`);
    this.name = "RedisReplicationValidationError";
  }
}
