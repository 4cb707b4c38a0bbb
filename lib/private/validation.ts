import { Token } from "cdktf";
import { IConstruct } from "constructs";
import { cpuListProblem } from "../boot/render/cpu-list";
import { ownedDirectiveProblem } from "../boot/render/redis-conf";
import { cidrProblem, isIpv4Address, parseMemorySize, snapshotScheduleProblem } from "../boot/render/values";
import { RedisReplicationValidationError } from "../errors";

// Synth-time checks of literal prop values. Every check skips unresolved
// tokens: a value only known at apply time is Terraform's to check. Checks
// add to a Problems list, so that one synth reports every problem at once.

/** The problems found so far; thrown together as one error. */
export class Problems {
  private readonly list: string[] = [];

  public add(message: string): void {
    this.list.push(message);
  }

  public get count(): number {
    return this.list.length;
  }

  /** Throws one RedisReplicationValidationError with every problem, if there is any. */
  public throwIfAny(scope: IConstruct): void {
    if (this.list.length > 0) throw new RedisReplicationValidationError(scope, [...this.list]);
  }
}

/** An SNS topic's ARN (any partition). */
export const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

function isLiteralNumber(value: number | undefined): value is number {
  return value !== undefined && !Token.isUnresolved(value);
}

export function requireInteger(problems: Problems, prop: string, value: number | undefined, min: number, max: number): void {
  if (!isLiteralNumber(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    return problems.add(`${prop} must be a whole number from ${min} to ${max}, got ${value}`);
  }
}

export function requirePort(problems: Problems, prop: string, value: number | undefined): void {
  requireInteger(problems, prop, value, 1, 65535);
}

export function requireDistinctPorts(problems: Problems, ports: Record<string, number | undefined>): void {
  const seen = new Map<number, string>();
  for (const [prop, port] of Object.entries(ports)) {
    if (!isLiteralNumber(port)) continue;
    const other = seen.get(port);
    if (other !== undefined) {
      return problems.add(`${prop} and ${other} must differ, both are ${port}`);
    }
    seen.set(port, prop);
  }
}

export function requireCidr(problems: Problems, prop: string, value: string): void {
  if (Token.isUnresolved(value)) return;
  const problem = cidrProblem(value);
  if (problem) return problems.add(`${prop} "${value}" is not a valid CIDR: ${problem}`);
}

export function requireIpv4(problems: Problems, prop: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!isIpv4Address(value)) {
    return problems.add(`${prop} "${value}" is not an IPv4 address such as 10.0.1.10`);
  }
}

/** Redis memory sizes: a whole number with an optional unit (b, k, kb, m, mb, g, gb). */
export function requireMemorySize(problems: Problems, prop: string, value: string | undefined, minBytes = 0): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  const bytes = parseMemorySize(value);
  if (bytes === undefined) {
    return problems.add(
      `${prop} "${value}" is not a memory size Redis accepts: use a whole number with an optional unit b, k, kb, m, mb, g or gb, such as "256mb"`,
    );
  }
  if (bytes < minBytes) {
    return problems.add(`${prop} must be at least ${minBytes} bytes, got "${value}"`);
  }
}

export function requireOneOf(problems: Problems, prop: string, value: string | undefined, allowed: readonly string[]): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!allowed.includes(value)) {
    return problems.add(`${prop} must be one of ${allowed.join(", ")}, got "${value}"`);
  }
}

export function requirePattern(problems: Problems, prop: string, value: string | undefined, pattern: RegExp, what: string): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!pattern.test(value)) return problems.add(`${prop} "${value}" is invalid: ${what}`);
}

/**
 * AWS resource ids such as vpc-..., subnet-..., sg-...: catches a name, an
 * ARN or a CIDR passed by mistake, and still accepts the short fake ids of
 * users' own tests.
 */
export function requireAwsId(problems: Problems, prop: string, value: string | undefined, prefix: string): void {
  requirePattern(problems, prop, value, new RegExp(`^${prefix}-[0-9a-zA-Z]+$`), `expected an id such as ${prefix}-0123456789abcdef0`);
}

/** EC2 instance types such as t3.medium or r7g.large. */
export function requireInstanceType(problems: Problems, prop: string, value: string | undefined): void {
  requirePattern(problems, prop, value, /^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "expected an EC2 instance type such as t3.medium or r7g.large");
}

/**
 * Runs `check` on every entry of a literal list, naming each `prop[i]`; a
 * list token (one encoded entry) is Terraform's to check.
 */
export function requireEach<T>(
  problems: Problems,
  prop: string,
  values: readonly T[] | undefined,
  check: (problems: Problems, prop: string, value: T) => void,
): void {
  if (values === undefined || Token.isUnresolved(values)) return;
  values.forEach((value, i) => check(problems, `${prop}[${i}]`, value));
}

/** A literal list must not be empty; a list token is accepted as it is. */
export function requireNonEmptyList(problems: Problems, prop: string, value: readonly string[]): void {
  if (Token.isUnresolved(value)) return;
  if (value.length === 0) return problems.add(`${prop} must name at least one entry, got an empty list`);
}

/** The `save` schedule: "<seconds> <changes>" pairs, or "" for none. */
export function requireSnapshotSchedule(problems: Problems, prop: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  const problem = snapshotScheduleProblem(value);
  if (problem) return problems.add(`${prop} "${value}" is invalid: ${problem}`);
}

/** A CPU list of `taskset -c` syntax ("0-3", "0,2,4", "1-7:2"). */
export function requireCpuList(problems: Problems, prop: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  const problem = cpuListProblem(value);
  if (problem) return problems.add(`${prop} "${value}" is not a CPU list: ${problem}`);
}

/** Names of redis.conf directives: a letter, then letters, digits, '-' or '_'. */
const DIRECTIVE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
// Control characters (newlines among them) have no place in a config value.
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/**
 * A user's extra redis.conf directives: literal names of the right form,
 * none the library owns, values without control characters. A token value
 * is Terraform's; a token name cannot be checked, and is refused.
 */
export function requireExtraDirectives(problems: Problems, prop: string, value: Readonly<Record<string, string>> | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  const seen = new Map<string, string>();
  for (const [name, v] of Object.entries(value)) {
    if (Token.isUnresolved(name) || !DIRECTIVE_NAME.test(name)) {
      problems.add(`${prop} name "${name}" is not a redis.conf directive name: use a letter, then up to 63 letters, digits, '-' or '_'`);
      continue;
    }
    const owned = ownedDirectiveProblem(name);
    if (owned) problems.add(`${prop} ${owned}`);
    const other = seen.get(name.toLowerCase());
    if (other !== undefined) problems.add(`${prop} names "${other}" and "${name}": Redis reads names in any case, so they are the same directive`);
    seen.set(name.toLowerCase(), name);
    if (typeof v !== "string") problems.add(`${prop}["${name}"] must be a string, got ${typeof v}`);
    else if (!Token.isUnresolved(v) && CONTROL_CHARACTER.test(v)) problems.add(`${prop}["${name}"] must not contain control characters such as a newline, got ${JSON.stringify(v)}`);
  }
}

/** Runs checks now and throws their problems: for methods, which validate as they are called. */
export function checkNow(scope: IConstruct, checks: (problems: Problems) => void): void {
  const problems = new Problems();
  checks(problems);
  problems.throwIfAny(scope);
}
