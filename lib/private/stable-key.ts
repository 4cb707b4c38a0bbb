import { createHash } from "crypto";
import { DefaultTokenResolver, StringConcat, Token, Tokenization } from "cdktf";
import { IConstruct } from "constructs";

/** Hex characters of the digest kept in a key: enough to never collide within one construct. */
const DIGEST_LENGTH = 10;

/**
 * A construct-id fragment that names `value` itself, so that an id built
 * from it survives the removal or reordering of its siblings (a counter would
 * rename every later construct, and Terraform would replace what did not
 * change).
 *
 * - A literal is kept readable: only "/" (the construct path separator) is
 *   replaced, by "-". Callers validate the literal's shape first, so that
 *   replacement cannot make two valid values meet.
 * - A token is resolved to the Terraform expression it stands for
 *   (`${aws_security_group.app.id}`, `${var.clients}`) and hashed: the
 *   expression depends only on what the token refers to, never on call order.
 *   `preparing: false` keeps the resolution free of side effects: a reference
 *   into another stack resolves to its origin expression, without the
 *   cross-stack outputs that synthesis adds later.
 */
export function stableKeyOf(scope: IConstruct, value: string): string {
  if (!Token.isUnresolved(value)) return value.replace(/\//g, "-");
  const expression = Tokenization.resolve(value, {
    scope,
    preparing: false,
    resolver: new DefaultTokenResolver(new StringConcat()),
  }) as unknown;
  const text = typeof expression === "string" ? expression : JSON.stringify(expression);
  return `ref-${createHash("sha256").update(text).digest("hex").slice(0, DIGEST_LENGTH)}`;
}
