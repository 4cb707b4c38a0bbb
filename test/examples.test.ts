import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "fs";
import { tmpdir } from "os";
import { join, relative } from "path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack, Testing } from "cdktf";
import { BasicExampleStack } from "../examples/basic/main";
import { ExistingAppStack } from "../examples/existing-app/main";
import { unescapeTerraformTemplate } from "../lib/boot";
import { parseCloudConfig, resources, TerraformJson } from "./helpers";

const ROOT = join(__dirname, "..");

/**
 * A node's user data for the snapshot, decoded so that a diff says what
 * changed: packages, boot commands and every file with its mode, config files
 * line by line; scripts (the shell assets, checked by shellcheck and by
 * equality with their files) by line count and digest.
 */
function userDataSnapshot(text: string): TerraformJson {
  const doc = parseCloudConfig(text);
  const files: Record<string, unknown> = {};
  for (const f of doc.write_files as Array<{ path: string; owner: string; permissions: string; content: string }>) {
    const digest = createHash("sha256").update(f.content).digest("hex").slice(0, 16);
    files[`${f.path} ${f.owner} ${f.permissions}`] = f.content.startsWith("#!")
      ? `<script: ${f.content.split("\n").length} lines, sha256 ${digest}>`
      : f.content.split("\n");
  }
  return { bytes: Buffer.byteLength(text), packages: doc.packages, bootcmd: doc.bootcmd, runcmd: doc.runcmd, files };
}

/** An SSM document's content parsed, its shell script (an asset, checked by shellcheck and equal to its file) by line count and digest. */
function documentSnapshot(content: string): TerraformJson {
  const doc = JSON.parse(unescapeTerraformTemplate(content)) as TerraformJson;
  for (const step of doc.mainSteps as Array<{ inputs: { runCommand: string[] } }>) {
    const script = step.inputs.runCommand.join("\n");
    step.inputs.runCommand = [`<script: ${step.inputs.runCommand.length} lines, sha256 ${createHash("sha256").update(script).digest("hex").slice(0, 16)}>`];
  }
  return doc;
}

/** The AWS provider's source and release, as the provider package pins them (@cdktf/provider-aws 21: "aws" 6.25.0; @cdktn/provider-aws 25: its own). */
const awsProvider = new AwsProvider(new TerraformStack(Testing.app(), "pin"), "aws", { region: "us-east-1" });
const AWS_PROVIDER_PIN = { source: awsProvider.terraformProviderSource, version: awsProvider.terraformGeneratorMetadata!.providerVersion };
const PIN_PLACEHOLDER = "<the AWS provider package's source and pin>";

/**
 * The synthesized JSON with each node's readable user data (the local its
 * user_data_base64 compresses) and each SSM document decoded, and the AWS
 * provider's source and pin replaced by a placeholder: the one snapshot
 * serves the cdktf and the cdktn package, whose provider packages pin
 * different releases.
 */
function snapshotOf(synth: string): TerraformJson {
  const json = JSON.parse(synth) as TerraformJson;
  for (const instance of Object.values(resources(json, "aws_instance"))) {
    const name = /^\$\{base64gzip\(local\.([\w-]+)\)\}$/.exec(instance.user_data_base64)![1];
    json.locals[name] = userDataSnapshot(json.locals[name] as string);
  }
  for (const document of Object.values(resources(json, "aws_ssm_document"))) document.content = documentSnapshot(document.content as string);
  expect(json.terraform.required_providers.aws).toEqual(AWS_PROVIDER_PIN);
  json.terraform.required_providers.aws = PIN_PLACEHOLDER;
  return json;
}

describe("snapshots", () => {
  test("the AWS provider's pin is a release", () => {
    expect(AWS_PROVIDER_PIN.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test("BasicExampleStack", () => {
    expect(snapshotOf(Testing.synth(new BasicExampleStack(Testing.app(), "basic", { region: "eu-central-1" })))).toMatchSnapshot();
  });

  test("ExistingAppStack", () => {
    expect(snapshotOf(Testing.synth(new ExistingAppStack(Testing.app(), "existing-app")))).toMatchSnapshot();
  });
});

describe("examples/existing-app as a user's app", () => {
  test("compiles on its own, strict, with the target and module of a `cdktf init` project", () => {
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const args = ["--noEmit", "--strict", "--esModuleInterop", "--skipLibCheck", "--types", "node", "--target", "ES2018", "--module", "commonjs"];
    const result = spawnSync(process.execPath, [tsc, ...args, "examples/existing-app/main.ts"], { cwd: ROOT, encoding: "utf8" });
    expect({ status: result.status, output: result.stdout + result.stderr }).toEqual({ status: 0, output: "" });
  }, 60_000);

  test("synthesizes with a real App into cdk.tf.json with three instances", () => {
    const outdir = mkdtempSync(join(tmpdir(), "existing-app-"));
    try {
      const app = new App({ outdir });
      new ExistingAppStack(app, "existing-app");
      app.synth();
      const file = join(outdir, "stacks", "existing-app", "cdk.tf.json");
      expect(existsSync(file)).toBe(true);
      const json = JSON.parse(readFileSync(file, "utf8")) as TerraformJson;
      expect(Object.keys(resources(json, "aws_instance"))).toHaveLength(3);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

/** Every .ts file under `dir`. */
function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Module specifiers of import / export-from / require / import() in TypeScript source. */
function importsOf(source: string): string[] {
  const patterns = [/\bfrom\s*["']([^"']+)["']/g, /\bimport\s*["']([^"']+)["']/g, /\b(?:require|import)\s*\(\s*["']([^"']+)["']\s*\)/g];
  return patterns.flatMap((p) => [...source.matchAll(p)].map((m) => m[1]));
}

describe("imports", () => {
  const files = [...sourcesUnder(join(ROOT, "lib")), ...sourcesUnder(join(ROOT, "examples"))];

  test("the import scanner sees every form", () => {
    const source = `import { A } from "a";\nimport * as b from 'b';\nimport "c";\nexport * from "./d";\nconst e = require("e");\nconst f = import("f");`;
    expect(importsOf(source)).toEqual(expect.arrayContaining(["a", "b", "c", "./d", "e", "f"]));
  });

  test("nothing imports the AWS provider package from its root (it loads every resource)", () => {
    expect(files.length).toBeGreaterThan(10);
    const offenders = files.filter((f) => importsOf(readFileSync(f, "utf8")).some((m) => /^@cdkt[fn]\/provider-aws$/.test(m)));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  test("the boot (parts, renderers, cloud-config) imports neither the kit (cdktf, cdktn) nor the provider", () => {
    const configFiles = sourcesUnder(join(ROOT, "lib", "boot"));
    expect(configFiles.length).toBeGreaterThan(10);
    const offenders = configFiles.flatMap((f) =>
      importsOf(readFileSync(f, "utf8"))
        .filter((m) => /^(cdkt[fn]|@cdkt[fn]\/provider-aws)(\/|$)/.test(m))
        .map((m) => `${relative(ROOT, f)}: ${m}`),
    );
    expect(offenders).toEqual([]);
  });
});
