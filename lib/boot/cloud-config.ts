import { readFileSync } from "fs";
import { join } from "path";
import { stringify } from "yaml";
import { BootFile, BootPart } from "./boot-part";

/** Where the boot scripts live on a node. */
export const BOOT_LIB_DIR = "/usr/local/lib/redis-node";
export const BOOT_SCRIPT_PATH = "/usr/local/sbin/redis-node-boot";
export const COMMON_SCRIPT_PATH = `${BOOT_LIB_DIR}/common.sh`;
export const NODE_ENV_PATH = "/etc/redis-node/node.env";
/** Config templates; the boot renders them once and removes them. */
export const TEMPLATE_DIR = "/etc/redis-node";

/** Reads a shell asset shipped with the library (real files, so shellcheck and editors see real shell). */
export function bootAsset(name: string): string {
  return readFileSync(join(__dirname, "assets", name), "utf8");
}

/** Reads the step of a boot part. */
export function partStepAsset(name: string): string {
  return readFileSync(join(__dirname, "parts", "assets", name), "utf8");
}

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

/** Where a part's step lands on the node: its order keeps the run order. */
export function partStepPath(part: Pick<BootPart, "name" | "order">): string {
  return `${BOOT_LIB_DIR}/parts/${String(part.order).padStart(2, "0")}-${part.name}.sh`;
}

/**
 * Escapes text for a Terraform string template, where `${` and `%{` start
 * interpolations: the user data is one, so literal shell must be escaped.
 */
export function escapeTerraformTemplate(text: string): string {
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}

/** What Terraform does to an escaped literal; tests use it to read user data back. */
export function unescapeTerraformTemplate(text: string): string {
  return text.replace(/\$\$\{/g, () => "${").replace(/%%\{/g, () => "%{");
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

/** The boot machinery's own settings: which units it masks again when a setup fails. */
function bootPart(parts: readonly BootPart[]): BootPart {
  return { name: "boot", order: 0, packages: [], files: [], env: { REDIS_NODE_SERVICES: servicesOf(parts).join(" ") } };
}

/** The files of the boot machinery itself: entry script, shared functions, settings. */
function coreFiles(parts: readonly BootPart[]): BootFile[] {
  return [
    { path: NODE_ENV_PATH, permissions: "0600", content: renderNodeEnv([bootPart(parts), ...parts]) },
    { path: COMMON_SCRIPT_PATH, permissions: "0644", content: escapeTerraformTemplate(embeddedShell(bootAsset("common.sh"))) },
    { path: BOOT_SCRIPT_PATH, permissions: "0755", content: escapeTerraformTemplate(embeddedShell(bootAsset("boot.sh"))) },
  ];
}

/** The files one part adds: its own files, then its step. */
export function partFiles(part: BootPart): BootFile[] {
  const step: BootFile[] = part.step
    ? [{ path: partStepPath(part), permissions: "0755", content: escapeTerraformTemplate(embeddedShell(partStepAsset(part.step))) }]
    : [];
  return [...part.files, ...step];
}

function sortedParts(parts: readonly BootPart[]): BootPart[] {
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
 * their packages, files and steps, the shared settings file, and the entry
 * script that runcmd starts once. The result is a Terraform string template
 * (literal `${` escaped), so node addresses may be Terraform references.
 */
export function renderCloudConfig(parts: readonly BootPart[]): string {
  if (parts.length === 0) throw new Error("A node needs at least one boot part");
  const ordered = sortedParts(parts);
  const packages = [...new Set(ordered.flatMap((p) => p.packages))];
  return cloudConfigText(packages, [...coreFiles(ordered), ...ordered.flatMap(partFiles)], servicesOf(ordered));
}

/**
 * The text each part adds to the user data (its packages, files and step),
 * plus "core" for the boot machinery; the size check names the largest.
 */
export function contributionsOf(parts: readonly BootPart[]): Record<string, string> {
  const out: Record<string, string> = { core: cloudConfigText([], coreFiles(parts)) };
  for (const p of parts) out[p.name] = cloudConfigText(p.packages, partFiles(p));
  return out;
}
