// Runs the library's check block and the instances' ignore_changes rule
// through real Terraform (no provider download: terraform_data is built in),
// to verify what the instance type check relies on:
//  1. the check block the library writes into the JSON is valid Terraform;
//  2. with ignore_changes, a changed value does not touch the running object,
//     and the plan keeps the running value, so a check that compares it with
//     the configured one warns (and the plan goes on);
//  3. `terraform apply -replace=` creates the object from the current config
//     (the ignored value too), and the warning is gone.
// terraform_data's `input` stands in for aws_instance's `instance_type`.
// Usage: npx ts-node --transpile-only bench/check-block.ts (needs terraform >= 1.5 on the PATH).
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { DataResource, Fn, Op, TerraformStack, Testing } from "cdktf";
import { TerraformCheck } from "../lib/private/terraform-check";

function config(type: string): string {
  const stack = new TerraformStack(Testing.app(), "bench");
  const node = new DataResource(stack, "node", { input: { type }, lifecycle: { ignoreChanges: ["input"] } });
  const running = `terraform_data.${node.friendlyUniqueId}.output.type`;
  new TerraformCheck(stack, "types", [{ condition: Op.eq(Fn.lookup(node.output, "type"), type), errorMessage: `node runs \${${running}}, configured ${type}` }]);
  return Testing.synth(stack);
}

function terraform(dir: string, ...args: string[]): { status: number | null; out: string; stdout: string } {
  const r = spawnSync("terraform", args, { cwd: dir, encoding: "utf8", timeout: 120_000, env: { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" } });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, stdout: r.stdout ?? "" };
}

/** Resource actions and check warnings of a `terraform plan -json` stream. */
function planSummary(out: string): { changes: string[]; warnings: string[] } {
  const changes: string[] = [];
  const warnings: string[] = [];
  for (const line of out.split("\n")) {
    if (!line.startsWith("{")) continue;
    const m = JSON.parse(line);
    if (m.type === "planned_change") changes.push(`${m.change.resource.addr}: ${m.change.action}`);
    if (m.type === "diagnostic" && m.diagnostic.severity === "warning" && m.diagnostic.summary !== "Unable to open CLI configuration file") warnings.push(`${m.diagnostic.summary}: ${m.diagnostic.detail}`);
  }
  return { changes, warnings };
}

const dir = mkdtempSync(join(tmpdir(), "bench-check-"));
try {
  const step = (what: string, r: { status: number | null; out: string }) => {
    if (r.status !== 0) throw new Error(`${what} failed (${r.status}):\n${r.out}`);
  };
  writeFileSync(join(dir, "main.tf.json"), config("t3.medium"));
  step("init", terraform(dir, "init", "-input=false", "-no-color"));
  step("apply t3.medium", terraform(dir, "apply", "-auto-approve", "-input=false", "-no-color"));

  writeFileSync(join(dir, "main.tf.json"), config("m7g.large"));
  const plan = terraform(dir, "plan", "-json", "-input=false");
  step("plan m7g.large", plan);
  const after = planSummary(plan.stdout);
  console.log(`configured m7g.large, running t3.medium: exit ${plan.status}; changes: ${after.changes.join(", ") || "none"}; warnings:\n  ${after.warnings.join("\n  ") || "none"}`);

  const address = Object.keys(JSON.parse(readFileSync(join(dir, "main.tf.json"), "utf8")).resource.terraform_data)[0];
  step("apply -replace", terraform(dir, "apply", "-auto-approve", "-input=false", "-no-color", `-replace=terraform_data.${address}`));
  const state = JSON.parse(terraform(dir, "show", "-json").stdout);
  const input = state.values.root_module.resources.find((r: { type: string }) => r.type === "terraform_data").values.input;
  const again = planSummary(terraform(dir, "plan", "-json", "-input=false").stdout);
  console.log(`after apply -replace=terraform_data.${address}: state input ${JSON.stringify(input)}; changes: ${again.changes.join(", ") || "none"}; warnings: ${again.warnings.join(" | ") || "none"}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
