// Runs the image architecture precondition (lib/node/machine-image.ts, the
// same function the group uses) through real Terraform, without AWS: locals
// stand in for aws_ami.architecture and aws_ec2_instance_type.supported_architectures
// (data sources are read at plan, so their values are known there as
// locals' are), a terraform_data (built in: no provider download) for the
// instance, with ignore_changes on its input as the instances have on ami.
// It shows:
//  1. an image whose architecture the type does not run fails `terraform plan`
//     with the library's message, and nothing is created;
//  2. a match plans and applies;
//  3. with the node running, a changed image of the wrong architecture fails
//     the next plan, although ignore_changes leaves the running object alone:
//     preconditions are evaluated at every plan, not only at a create;
//  4. an image id that is a variable (a token at synth) gets the same check.
// Exits 1 when one of these does not hold.
// Usage: npx ts-node --transpile-only bench/image-architecture.ts (needs terraform on the PATH).
import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { DataResource, TerraformLocal, TerraformStack, TerraformVariable, Testing, Token } from "cdktf";
import { imageArchitecturePrecondition } from "../lib/node/machine-image";

interface Case {
  readonly imageArchitecture: string;
  readonly typeArchitectures: string[];
  /** An image id given as a Terraform variable (a token at synth) instead of a literal. */
  readonly amiFromVariable?: boolean;
}

const AMI = "ami-0123456789abcdef0";

function config({ imageArchitecture, typeArchitectures, amiFromVariable }: Case): string {
  const stack = new TerraformStack(Testing.app(), "bench");
  const amiId = amiFromVariable ? new TerraformVariable(stack, "ami", { type: "string", default: AMI }).stringValue : AMI;
  const image = new TerraformLocal(stack, "image-architecture", imageArchitecture);
  const type = new TerraformLocal(stack, "type-architectures", typeArchitectures);
  const precondition = imageArchitecturePrecondition({
    node: "bench/redis/master",
    amiId,
    imageArchitecture: image.asString,
    instanceType: "m7g.large",
    typeArchitectures: Token.asList(type.expression),
    prop: "amiId",
  });
  new DataResource(stack, "instance", { input: { ami: amiId }, lifecycle: { ignoreChanges: ["input"], precondition: [precondition] } });
  return Testing.synth(stack);
}

function terraform(dir: string, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync("terraform", args, { cwd: dir, encoding: "utf8", timeout: 120_000, env: { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" } });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** The error of a failed plan, on one line, without Terraform's box drawing. */
const errorOf = (out: string) =>
  out
    .split("\n")
    .map((l) => l.replace(/^[│╷╵]\s?/, "").trim())
    .filter((l) => l && !/^(├|with |on |\d+:|Warning|There are some problems|The CLI configuration|Unable to open)/.test(l))
    .join(" ");

const dir = mkdtempSync(join(tmpdir(), "bench-image-arch-"));
const failures: string[] = [];
const expect = (what: string, ok: boolean, detail: string) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}: ${detail}`);
  if (!ok) failures.push(what);
};
try {
  const plan = (c: Case) => {
    writeFileSync(join(dir, "main.tf.json"), config(c));
    return terraform(dir, "plan", "-input=false", "-no-color", "-detailed-exitcode");
  };
  const init = terraform(dir, "init", "-input=false", "-no-color");
  if (init.status !== 0) throw new Error(`terraform init failed:\n${init.out}`);
  console.log(terraform(dir, "version").out.split("\n")[0]);

  const mismatch = plan({ imageArchitecture: "x86_64", typeArchitectures: ["arm64"] });
  const message = errorOf(mismatch.out);
  expect(
    "x86_64 image, arm64 type: the plan fails with the message",
    mismatch.status === 1 && message.includes("bench/redis/master: its image ami-0123456789abcdef0 (amiId) is built for x86_64, but its instance type m7g.large runs only arm64"),
    `exit ${mismatch.status}; ${message}`,
  );

  const match = plan({ imageArchitecture: "arm64", typeArchitectures: ["arm64"] });
  expect("arm64 image, arm64 type: the plan passes (exit 2: a create)", match.status === 2, `exit ${match.status}`);
  const several = plan({ imageArchitecture: "x86_64", typeArchitectures: ["i386", "x86_64"] });
  expect("x86_64 image, type with i386 and x86_64: the plan passes", several.status === 2, `exit ${several.status}`);

  const apply = terraform(dir, "apply", "-auto-approve", "-input=false", "-no-color");
  expect("the matching config applies", apply.status === 0, `exit ${apply.status}`);
  const unchanged = plan({ imageArchitecture: "x86_64", typeArchitectures: ["i386", "x86_64"] });
  expect("the same config again: no change (exit 0)", unchanged.status === 0, `exit ${unchanged.status}`);
  const running = plan({ imageArchitecture: "x86_64", typeArchitectures: ["arm64"] });
  expect(
    "node running, type moved to arm64 with the x86_64 image kept: the plan fails (the precondition holds at every plan)",
    running.status === 1 && errorOf(running.out).includes("runs only arm64"),
    `exit ${running.status}`,
  );

  const variable = plan({ imageArchitecture: "x86_64", typeArchitectures: ["arm64"], amiFromVariable: true });
  expect(
    "image id from a variable (a token at synth): checked too, the message names the id",
    variable.status === 1 && errorOf(variable.out).includes(`its image ${AMI} (amiId) is built for x86_64`),
    `exit ${variable.status}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.error(`${failures.length} expectation(s) failed`);
  process.exit(1);
}
