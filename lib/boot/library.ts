import { createHash } from "crypto";
import { readdirSync } from "fs";
import { join } from "path";
import { BootPart } from "./boot-part";
import { BOOT_LIB_DIR, bootAsset, escapeTerraformTemplate, partStepAsset } from "./assets";

/**
 * The boot library: the scripts every node runs at its first boot (the
 * steps of all boot parts, redis.sh, boot.sh), the same for every node of
 * every group of a library version. It lives in SSM Parameter Store, not in
 * the user data (EC2 caps user data at 16 KB); the user data carries the
 * node's own settings, the entry script, and the library's SHA-256, which
 * the entry script checks before it installs anything.
 */
export interface BootLibrary {
  /** What the node reads: a JSON object {path under BOOT_LIB_DIR: [mode, text]}, ASCII only. */
  readonly bundle: string;
  /** Hex SHA-256 of the bundle's bytes, pinned in each node's user data. */
  readonly sha256: string;
  /** The bundle split in order over parameter values, each escaped for a Terraform template. */
  readonly chunks: readonly string[];
  /** Paths (under BOOT_LIB_DIR) the bundle holds. */
  readonly paths: readonly string[];
}

/** An SSM standard parameter holds up to 4 KB. */
export const BOOT_LIBRARY_CHUNK_BYTES = 4096;
/** The rolling restart's node command (lib/boot/assets), a library file; the planned-failover step links it into the PATH. */
export const NODE_RESTART_ASSET = "node-restart.sh";
/** Where the node command's file is on a node. */
export const NODE_RESTART_SCRIPT = `${BOOT_LIB_DIR}/${NODE_RESTART_ASSET}`;
/** The library scripts that are not part steps, under lib/boot/assets, and their modes (the commands an operator runs are executable). */
const LIBRARY_ASSETS: Record<string, string> = { "boot.sh": "0755", "redis.sh": "0644", [NODE_RESTART_ASSET]: "0755" };
/** Where a library path lands on the node. */
export function libraryPathOnNode(path: string): string {
  return `${BOOT_LIB_DIR}/${path}`;
}

/** The library path of a part's step. */
export function partStepLibraryPath(step: string): string {
  return `parts/${step}`;
}

/** JSON text with every character outside printable ASCII escaped: one byte per character. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Splits text into pieces of at most `max` bytes (the text is ASCII) whose
 * ends are not whitespace, so that no store or tool that trims a value can
 * change one.
 */
export function splitForParameters(text: string, max = BOOT_LIBRARY_CHUNK_BYTES): string[] {
  const chunks: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + max, text.length);
    while (end < text.length && end > start + 1 && (/\s/.test(text[end - 1]) || /\s/.test(text[end]))) end--;
    chunks.push(text.slice(start, end));
    start = end;
  }
  return chunks;
}

let built: BootLibrary | undefined;

/** The library of this version of the package (read from its assets once). */
export function bootLibrary(): BootLibrary {
  if (built) return built;
  const files: Record<string, [string, string]> = {};
  for (const [name, mode] of Object.entries(LIBRARY_ASSETS)) files[name] = [mode, bootAsset(name)];
  const steps = readdirSync(join(__dirname, "parts", "assets")).filter((f) => f.endsWith(".sh")).sort();
  for (const step of steps) files[partStepLibraryPath(step)] = ["0755", partStepAsset(step)];
  const bundle = asciiJson(files);
  built = {
    bundle,
    sha256: createHash("sha256").update(bundle, "utf8").digest("hex"),
    chunks: splitForParameters(bundle).map(escapeTerraformTemplate),
    paths: Object.keys(files),
  };
  return built;
}

/** Fails when a part's step is not in the library (a step file missing from the package). */
export function checkStepsInLibrary(parts: readonly BootPart[]): void {
  const paths = new Set(bootLibrary().paths);
  for (const p of parts) {
    if (p.step && !paths.has(partStepLibraryPath(p.step))) throw new Error(`Boot part ${p.name}: its step ${p.step} is not in the boot library`);
  }
}
