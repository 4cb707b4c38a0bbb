/**
 * Pure checks of literal values, shared by the constructs' synth-time
 * validation and the renderers. Each returns a reason when the value is bad,
 * or undefined when it is fine.
 */

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 * 1000,
  mb: 1024 * 1024,
  g: 1000 * 1000 * 1000,
  gb: 1024 * 1024 * 1024,
};

/**
 * Parses a memory size the way redis.conf does (`memtoll`): a whole number
 * with an optional unit k, kb, m, mb, g, gb (case-insensitive).
 * @returns the size in bytes, or undefined when Redis would reject it
 */
export function parseMemorySize(value: string): number | undefined {
  const m = /^(\d+)([a-z]*)$/i.exec(value.trim());
  if (!m || value.trim() !== value) return undefined;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(m[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Why `value` is not an IPv4 CIDR block such as `10.0.0.0/16`, or undefined. */
export function cidrProblem(value: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!m) return "expected an IPv4 CIDR block such as 10.0.0.0/16";
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o, i) => o > 255 || String(o) !== m[i + 1])) {
    return "each address octet must be a number 0-255 without leading zeros";
  }
  const prefix = Number(m[5]);
  if (prefix > 32) return "the prefix length must be 0-32";
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const hostBits = 2 ** (32 - prefix);
  if (address % hostBits !== 0) {
    const base = address - (address % hostBits);
    const text = [24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join(".");
    return `host bits are set; the network address is ${text}/${prefix}`;
  }
  return undefined;
}

/** True when `value` is an IPv4 address in dotted-quad form. */
export function isIpv4Address(value: string): boolean {
  return cidrProblem(`${value}/32`) === undefined;
}

/** Names Redis Sentinel accepts for a monitored master, kept to a safe set. */
export const MASTER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The `save` schedule: pairs of "seconds changes", or "" to disable RDB snapshots. */
export function snapshotScheduleProblem(value: string): string | undefined {
  if (value === "") return undefined;
  const parts = value.trim().split(/\s+/);
  if (parts.length % 2 !== 0 || parts.some((p) => !/^[1-9]\d*$/.test(p))) {
    return 'expected pairs of positive whole numbers "<seconds> <changes>", such as "3600 1 300 100", or "" to disable snapshots';
  }
  return undefined;
}
