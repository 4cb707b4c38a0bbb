import { gzipSync } from "zlib";
import { unescapeTerraformTemplate } from "./assets";

/** The EC2 limit on user data, in bytes, as the instance receives it (here: gzip-compressed). */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;
/** What the library's own nodes may use: half the limit, room for the concerns still to come. */
export const USER_DATA_BUDGET_BYTES = 8 * 1024;

/**
 * Bytes EC2 receives for a template: gzip at the level Terraform uses. The
 * references are counted as written (a reference is about as long as the
 * address or name it becomes).
 */
export function compressedSize(template: string): number {
  return gzipSync(Buffer.from(unescapeTerraformTemplate(template), "utf8"), { level: 6 }).length;
}

/**
 * Why the user data is too large, naming the largest contributions (rendered
 * only then: every synth of every node pays for the check, not for them);
 * undefined when it fits.
 */
export function userDataSizeProblem(template: string, contributions: () => Record<string, string>): string | undefined {
  const size = compressedSize(template);
  if (size <= USER_DATA_LIMIT_BYTES) return undefined;
  const largest = Object.entries(contributions())
    .map(([name, text]) => ({ name, bytes: compressedSize(text) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3)
    .map((c) => `${c.name} ${c.bytes} bytes`)
    .join(", ");
  return `user data is ${size} bytes gzip-compressed, over the EC2 limit of ${USER_DATA_LIMIT_BYTES}; largest boot parts: ${largest}`;
}
