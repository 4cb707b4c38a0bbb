import { readFileSync } from "fs";
import { join } from "path";

/** Where the boot scripts live on a node. */
export const BOOT_LIB_DIR = "/usr/local/lib/redis-node";
/** Reads a shell asset shipped with the library (real files, so shellcheck and editors see real shell). */
export function bootAsset(name: string): string {
  return readFileSync(join(__dirname, "assets", name), "utf8");
}

/** Reads the step of a boot part. */
export function partStepAsset(name: string): string {
  return readFileSync(join(__dirname, "parts", "assets", name), "utf8");
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

