import { stringify } from "yaml";
import { BOOT_LIB_DIR, bootAsset, escapeTerraformTemplate } from "./assets";
import { BootFile, BootPart } from "./boot-part";
import { checkStepsInLibrary, libraryPathOnNode, partStepLibraryPath } from "./library";

/** What the entry script needs to read the library (aws.sh signs with curl, parses with python3). */
const BOOTSTRAP_PACKAGES = ["curl", "python3"];

export const BOOT_SCRIPT_PATH = "/usr/local/sbin/redis-node-boot";
export const COMMON_SCRIPT_PATH = `${BOOT_LIB_DIR}/common.sh`;
export const NODE_ENV_PATH = "/etc/redis-node/node.env";
/** Config templates; the boot renders them once and removes them. */
export const TEMPLATE_DIR = "/etc/redis-node";

/**
 * A shell asset as it is embedded in user data: full-line comments dropped
 * (the shebang and shellcheck directives stay). Gzip'd user data is a
 * budget, and the comments are for readers of the files under assets/; a
 * test checks that bash parses both to the same code.
 */
export function embeddedShell(script: string): string {
  return script
    .split("\n")
    .filter((line, i) => i === 0 || !/^\s*#(?! shellcheck )/.test(line))
    .join("\n");
}

/** Where a part's step lands on the node (the library installs it there). */
export function partStepPath(part: Pick<BootPart, "step">): string {
  if (!part.step) throw new Error("this boot part has no step");
  return libraryPathOnNode(partStepLibraryPath(part.step));
}

/** Where the user data puts the AWS call functions (aws.sh). */
export const AWS_SCRIPT_PATH = `${BOOT_LIB_DIR}/aws.sh`;

/**
 * Where a node reads the boot library: the SSM parameters that hold it, in
 * order (names, which may be Terraform references), and the SHA-256 its
 * user data pins.
 */
export interface BootLibraryLocation {
  readonly parameterNames: readonly string[];
  readonly sha256: string;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The variables of every part, in part order; a name two parts set differently is a bug. */
export function renderNodeEnv(parts: readonly BootPart[]): string {
  const vars = new Map<string, { value: string; part: string }>();
  for (const part of parts) {
    for (const [name, value] of Object.entries(part.env)) {
      const seen = vars.get(name);
      if (seen && seen.value !== value) {
        throw new Error(`Boot parts ${seen.part} and ${part.name} set ${name} to different values`);
      }
      if (!seen) vars.set(name, { value, part: part.name });
    }
  }
  return [...vars].map(([k, { value }]) => `${k}=${shellQuote(value)}`).join("\n") + "\n";
}

/** Where the boot marks a successful setup (common.sh's DONE_MARKER). */
export const SETUP_DONE_MARKER = "/var/lib/redis-node/setup-done";

/** The units the parts keep masked until a setup succeeds. */
export function servicesOf(parts: readonly BootPart[]): string[] {
  return [...new Set(parts.flatMap((p) => p.services ?? []))];
}

/**
 * The boot machinery's own settings: the steps to run, in order, the units
 * it masks again when a setup fails, and where the library is.
 */
function bootPart(parts: readonly BootPart[], library: BootLibraryLocation): BootPart {
  const env = {
    BOOT_PARTS: parts.flatMap((p) => (p.step ? [p.step.replace(/\.sh$/, "")] : [])).join(" "),
    REDIS_NODE_SERVICES: servicesOf(parts).join(" "),
    BOOT_LIBRARY_PARAMETERS: library.parameterNames.join(" "),
    BOOT_LIBRARY_SHA256: library.sha256,
  };
  return { name: "boot", order: 0, packages: [], files: [], env };
}

/** A script of lib/boot/assets as the user data carries it. */
function userDataScript(path: string, permissions: string, asset: string): BootFile {
  return { path, permissions, content: escapeTerraformTemplate(embeddedShell(bootAsset(asset))) };
}

/**
 * The files of the boot machinery in the user data: the settings, what the
 * entry script needs before the library is there (common.sh, aws.sh), and
 * the entry script.
 */
function coreFiles(parts: readonly BootPart[], library: BootLibraryLocation): BootFile[] {
  return [
    { path: NODE_ENV_PATH, permissions: "0600", content: renderNodeEnv([bootPart(parts, library), ...parts]) },
    userDataScript(COMMON_SCRIPT_PATH, "0644", "common.sh"),
    userDataScript(AWS_SCRIPT_PATH, "0644", "aws.sh"),
    userDataScript(BOOT_SCRIPT_PATH, "0755", "bootstrap.sh"),
  ];
}

function sortedParts(parts: readonly BootPart[]): BootPart[] {
  checkStepsInLibrary(parts);
  const names = new Set<string>();
  for (const p of parts) {
    if (names.has(p.name)) throw new Error(`Boot part ${p.name} is there twice`);
    names.add(p.name);
  }
  return [...parts].sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

function cloudConfigText(packages: readonly string[], files: readonly BootFile[], services: readonly string[] = []): string {
  const doc = {
    // Every boot, before apt runs: until a setup has succeeded, the packaged
    // units stay masked (apt would start them with their stock settings).
    ...(services.length > 0 ? { bootcmd: [`[ -e ${SETUP_DONE_MARKER} ] || systemctl mask ${services.join(" ")}`] } : {}),
    package_update: true,
    packages,
    write_files: files.map((f) => ({ path: f.path, owner: f.owner ?? "root:root", permissions: f.permissions, content: f.content })),
    runcmd: [[BOOT_SCRIPT_PATH]],
  };
  return "#cloud-config\n" + stringify(doc, { lineWidth: 0, blockQuote: "literal" });
}

/**
 * Renders the #cloud-config user data of one node from its boot parts:
 * their packages and files, the shared settings file, and the entry script
 * that runcmd starts once; the entry script reads the boot library (the
 * parts' steps) from where `library` says. The result is a Terraform string
 * template (literal `${` escaped), so node addresses may be Terraform
 * references.
 */
export function renderCloudConfig(parts: readonly BootPart[], library: BootLibraryLocation): string {
  if (parts.length === 0) throw new Error("A node needs at least one boot part");
  const ordered = sortedParts(parts);
  const packages = [...new Set([...BOOTSTRAP_PACKAGES, ...ordered.flatMap((p) => p.packages)])];
  return cloudConfigText(packages, [...coreFiles(ordered, library), ...ordered.flatMap((p) => p.files)], servicesOf(ordered));
}

/**
 * The text each part adds to the user data (its packages and files), plus
 * "core" for the boot machinery; the size check names the largest.
 */
export function contributionsOf(parts: readonly BootPart[], library: BootLibraryLocation): Record<string, string> {
  const out: Record<string, string> = { core: cloudConfigText([], coreFiles(parts, library)) };
  for (const p of parts) out[p.name] = cloudConfigText(p.packages, p.files);
  return out;
}
