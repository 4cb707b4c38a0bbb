// Both real kits in one process: the cdktf package (this repository's lib/,
// on the repository's cdktf) and the cdktn package (this tree's lib/, on
// cdktn). Copied into the cdktn tree as it is, not rewritten: it names
// each kit on purpose. Run by `npm run test:cdktn`.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

const REPO = join(__dirname, "..", "..", "..", "..");
/* eslint-disable @typescript-eslint/no-require-imports */
const cdktf = require(join(REPO, "node_modules", "cdktf")) as typeof import("cdktn");
const cdktn = require("cdktn") as typeof import("cdktn");
const cdktfPackage = require(join(REPO, "lib")) as typeof import("../../lib");
const cdktnPackage = require("../../lib") as typeof import("../../lib");
const { SsmParameter: CdktfSsmParameter } = require(join(REPO, "node_modules", "@cdktf", "provider-aws", "lib", "ssm-parameter"));
const { AwsProvider } = require("@cdktn/provider-aws/lib/provider") as typeof import("@cdktn/provider-aws/lib/provider");
/* eslint-enable @typescript-eslint/no-require-imports */

const PROPS = { vpcId: "vpc-1", subnetIds: ["subnet-a"] };
const version = (kit: string) => JSON.parse(readFileSync(require.resolve(`${kit === "cdktf" ? join(REPO, "node_modules", "cdktf") : "cdktn"}/package.json`), "utf8")).version;

function errorOf(create: () => unknown): Error {
  try {
    create();
  } catch (error) {
    return error as Error;
  }
  throw new Error("no error");
}

test("the two kits and the two builds of the library are different modules", () => {
  expect(cdktf.TerraformStack).not.toBe(cdktn.TerraformStack);
  expect(cdktfPackage.RedisReplicationGroup).not.toBe(cdktnPackage.RedisReplicationGroup);
});

test("why: a cdktf resource in a cdktn stack passes construction and fails at synth with a TypeError from inside cdktn", () => {
  const app = new cdktn.App({ outdir: mkdtempSync(join(tmpdir(), "kits-")) });
  try {
    const stack = new cdktn.TerraformStack(app, "web");
    new CdktfSsmParameter(stack, "parameter", { name: "p", type: "String", value: "v" });
    expect(() => app.synth()).toThrow(TypeError);
    expect(() => app.synth()).toThrow(/_resetResolveDiscoveredProviderFeatureUsage is not a function/);
  } finally {
    rmSync(app.outdir, { recursive: true, force: true });
  }
});

test("the cdktf package in a cdktn stack: a validation error naming cdktn-redis-replication, when the group is created", () => {
  const stack = new cdktn.TerraformStack(new cdktn.App(), "web");
  const error = errorOf(() => new cdktfPackage.RedisReplicationGroup(stack, "cache", PROPS));
  expect(error).toBeInstanceOf(cdktfPackage.RedisReplicationValidationError);
  expect(error.message).toBe(
    `[web/cache] the stack "web" is a cdktn ${version("cdktn")} stack, and cdktf-redis-replication is built for cdktf: in a cdktn app, use the package cdktn-redis-replication instead`,
  );
  // The README shows this very message.
  expect(readFileSync(join(REPO, "README.md"), "utf8")).toContain(`\n${error.message}\n`);
});

test("the cdktn package in a cdktf stack: a validation error naming cdktf-redis-replication", () => {
  const stack = new cdktf.TerraformStack(new cdktf.App(), "web");
  const error = errorOf(() => cdktnPackage.RedisReplicationGroup.fromAttributes(stack, "cache", { securityGroupId: "sg-1", passwordSecretArn: "arn" }));
  expect(error).toBeInstanceOf(cdktnPackage.RedisReplicationValidationError);
  expect(error.message).toBe(
    `[web/cache] the stack "web" is a cdktf ${version("cdktf")} stack, and cdktn-redis-replication is built for cdktn: in a cdktf app, use the package cdktf-redis-replication instead`,
  );
});

test("the cdktn package in a cdktn app: App.synth writes the stack, with the group's outputs", () => {
  const outdir = mkdtempSync(join(tmpdir(), "kits-"));
  try {
    const app = new cdktn.App({ outdir });
    const stack = new cdktn.TerraformStack(app, "data");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    new cdktnPackage.RedisReplicationGroup(stack, "cache", PROPS);
    app.synth();
    expect(readdirSync(join(outdir, "stacks"))).toEqual(["data"]);
    const json = JSON.parse(readFileSync(join(outdir, "stacks", "data", "cdk.tf.json"), "utf8"));
    expect(json.output["cache-master-address"].value).toMatch(/^\$\{aws_network_interface\.cache_master_eni_[0-9A-F]{8}\.private_ip\}$/);
    expect(json.terraform.required_providers.tls).toEqual({ source: "hashicorp/tls", version: "4.1.0" });
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
