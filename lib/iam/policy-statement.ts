/**
 * One IAM policy statement, as the node role and the grants write it.
 * Values may be Terraform references (tokens).
 */
export interface RedisPolicyStatement {
  /** IAM actions, such as "ssm:GetParameter". */
  readonly actions: string[];
  /** ARNs the actions apply to. */
  readonly resources: string[];
  /** @default "Allow" */
  readonly effect?: string;
  /**
   * IAM condition block, operator -> key -> value(s).
   * @default - no condition
   */
  readonly conditions?: { [operator: string]: { [key: string]: unknown } };
}

/** The statement in IAM's JSON form. */
export function statementJson(s: RedisPolicyStatement): Record<string, unknown> {
  return {
    Effect: s.effect ?? "Allow",
    Action: s.actions,
    Resource: s.resources.length === 1 ? s.resources[0] : s.resources,
    ...(s.conditions ? { Condition: s.conditions } : {}),
  };
}

/** A policy document of the given statements, as JSON text. */
export function policyDocument(statements: readonly RedisPolicyStatement[]): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: statements.map(statementJson) });
}
