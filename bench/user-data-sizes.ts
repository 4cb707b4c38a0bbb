// Prints each node's user data size as EC2 receives it, for both examples:
// the readable cloud-config, and its gzip (Terraform's base64gzip) with every
// reference replaced by a worst-case address. With terraform on the PATH it
// also asks Terraform itself to compress the same text (`terraform console`
// needs no provider), as a cross-check of the estimate.
import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { gzipSync } from "zlib";
import { Testing } from "cdktf";
import { BasicExampleStack } from "../examples/basic/main";
import { ExistingAppStack } from "../examples/existing-app/main";
import { USER_DATA_BUDGET_BYTES, USER_DATA_LIMIT_BYTES } from "../lib/boot";

const REFERENCE = /(?<!\$)\$\{[^}]*\}/g;
const WORST_CASE = "255.255.255.255";

/** Bytes of Terraform's own base64gzip of `text` (decoded here: the payload is binary). */
function terraformGzipBase64Bytes(text: string): number | undefined {
  const dir = mkdtempSync(join(tmpdir(), "bench-tf-"));
  try {
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify({ locals: { ud: text } }));
    const r = spawnSync("terraform", ["console"], { cwd: dir, input: "base64gzip(local.ud)\n", encoding: "utf8", timeout: 60_000 });
    const b64 = r.stdout?.trim().replace(/^"|"$/g, "");
    return r.status === 0 && b64 ? Buffer.from(b64, "base64").length : undefined;
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasTerraform = spawnSync("terraform", ["version"], { encoding: "utf8" }).status === 0;
const rows = [["example / node", "readable bytes", "gzip bytes (EC2)", hasTerraform ? "terraform base64gzip bytes" : "terraform: not on PATH"]];
let worst = 0;
for (const [name, stack] of [
  ["basic", new BasicExampleStack(Testing.app(), "basic", {})],
  ["basic, monitoring on", new BasicExampleStack(Testing.app(), "basic", { monitoring: { enabled: true } })],
  ["basic, monitoring and dns on", new BasicExampleStack(Testing.app(), "basic", { monitoring: { enabled: true }, dns: { zoneName: "redis.internal" } })],
  [
    "basic, dedicated sentinels, monitoring and dns on",
    new BasicExampleStack(Testing.app(), "basic", { sentinel: { dedicatedNodeCount: 3 }, monitoring: { enabled: true }, dns: { zoneName: "redis.internal" } }),
  ],
  [
    "basic, instance store (r6id.large), monitoring and dns on",
    new BasicExampleStack(Testing.app(), "basic", { instanceType: "r6id.large", instanceStore: true, monitoring: { enabled: true }, dns: { zoneName: "redis.internal" } }),
  ],
  ["existing-app", new ExistingAppStack(Testing.app(), "existing-app")],
] as const) {
  const json = JSON.parse(Testing.synth(stack));
  for (const [local, template] of Object.entries<string>(json.locals ?? {})) {
    if (!local.includes("_user-data_")) continue;
    // In a template only `$${` is an escape; Terraform itself undoes them in the cross-check.
    const rendered = template.replace(REFERENCE, WORST_CASE).replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{");
    const gz = gzipSync(Buffer.from(rendered, "utf8")).length;
    worst = Math.max(worst, gz);
    const tf = hasTerraform ? terraformGzipBase64Bytes(template.replace(REFERENCE, WORST_CASE)) : undefined;
    rows.push([`${name} / ${local.replace(/_user-data_[0-9A-F]{8}$/, "")}`, String(Buffer.byteLength(template)), String(gz), tf === undefined ? "-" : String(tf)]);
  }
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const [i, r] of rows.entries()) {
  console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
console.log(`\nbudget: <= ${USER_DATA_BUDGET_BYTES} bytes per node (EC2 limit ${USER_DATA_LIMIT_BYTES}); largest: ${worst} ${worst <= USER_DATA_BUDGET_BYTES ? "OK" : "OVER"}  (informative only)`);
