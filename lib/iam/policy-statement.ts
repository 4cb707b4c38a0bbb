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

/**
 * A policy document of the given statements, as JSON text. Statements that
 * differ only in their resources become one (IAM limits a role's inline
 * policies to 10,240 characters).
 */
export function policyDocument(statements: readonly RedisPolicyStatement[]): string {
  const merged = new Map<string, { statement: RedisPolicyStatement; resources: string[] }>();
  for (const s of statements) {
    const key = JSON.stringify([s.effect ?? "Allow", s.actions, s.conditions ?? null]);
    const entry = merged.get(key) ?? { statement: s, resources: [] };
    for (const r of s.resources) if (!entry.resources.includes(r)) entry.resources.push(r);
    merged.set(key, entry);
  }
  const Statement = [...merged.values()].map(({ statement, resources }) => statementJson({ ...statement, resources }));
  return JSON.stringify({ Version: "2012-10-17", Statement });
}
