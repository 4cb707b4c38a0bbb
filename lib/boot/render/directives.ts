/**
 * Writer for the redis.conf / sentinel.conf format: one directive a line,
 * arguments split on whitespace, double-quoted strings with backslash escapes
 * (the grammar of Redis' `sdssplitargs`).
 */

/** One argument of a directive; booleans become `yes` / `no`. */
export type DirectiveArgument = string | number | boolean;

/** A directive: its name and arguments, written on one line. */
export interface Directive {
  readonly name: string;
  readonly args: readonly DirectiveArgument[];
}

/**
 * A placeholder for a user's password in rendered configuration
 * (`@@PASSWORD:<user>@@`, see acl.ts). The boot script replaces it, inside
 * the double quotes the renderer always puts around it, with the escaped
 * secret it fetched, so no secret is ever rendered.
 */
const PASSWORD_PLACEHOLDER_ARGUMENT = /^@@PASSWORD:[A-Za-z0-9_-]+@@$/;

// Anything sdssplitargs would split, unquote or unescape must be quoted.
const NEEDS_QUOTES = /[\s"'\\]|[^\x20-\x7e]/;

function escapeChar(ch: string): string {
  switch (ch) {
    case "\\":
      return "\\\\";
    case '"':
      return '\\"';
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    default: {
      const code = ch.charCodeAt(0);
      if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, "0")}`;
      return ch;
    }
  }
}

/** Formats one argument so that Redis reads back exactly `value`. */
export function formatArgument(value: DirectiveArgument): string {
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`Cannot write ${value} as a Redis config argument`);
    return String(value);
  }
  if (PASSWORD_PLACEHOLDER_ARGUMENT.test(value)) return `"${value}"`;
  if (value.length > 0 && !NEEDS_QUOTES.test(value)) return value;
  // Non-ASCII is written byte by byte so the file stays 7-bit clean.
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code > 0x7e) {
      for (const byte of Buffer.from(ch, "utf8")) out += `\\x${byte.toString(16).padStart(2, "0")}`;
    } else {
      out += escapeChar(ch);
    }
  }
  return `"${out}"`;
}

/** Renders a directive as one line. */
export function formatDirective(directive: Directive): string {
  // Lower case, digits and '-', or '_' as in server_cpulist.
  if (!/^[a-z][a-z0-9_-]*$/.test(directive.name)) {
    throw new Error(`Invalid Redis config directive name: ${JSON.stringify(directive.name)}`);
  }
  return [directive.name, ...directive.args.map(formatArgument)].join(" ");
}

/** Renders a whole file: optional comment header, then one directive a line. */
export function renderDirectives(directives: readonly Directive[], header: readonly string[] = []): string {
  const lines = header.map((line) => `# ${line}`.trimEnd());
  if (lines.length > 0) lines.push("");
  for (const d of directives) lines.push(formatDirective(d));
  return lines.join("\n") + "\n";
}

/** Shorthand used by the renderers. */
export function directive(name: string, ...args: DirectiveArgument[]): Directive {
  return { name, args };
}
