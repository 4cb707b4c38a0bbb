// The package as a user gets it: `npm pack`, installed into a fresh cdktf
// app, compiled strictly against its types and synthesized. The app has two
// stacks: one owns a group, the other imports it by its attributes, allows
// its web servers in and grants its role the password.
import { execFileSync, spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { builtinModules } from "module";
import { dirname, join } from "path";
import { iamStatements, resources, TerraformJson } from "./helpers";

const ROOT = join(__dirname, "..");

const APP = `
import { App, TerraformOutput, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { RedisReplicationGroup } from "cdktf-redis-replication";

const app = new App({ outdir: process.argv[2] });
const data = new TerraformStack(app, "data");
new AwsProvider(data, "aws", { region: "eu-west-1" });
const cache = new RedisReplicationGroup(data, "cache", { vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0"] });

const web = new TerraformStack(app, "web");
new AwsProvider(web, "aws", { region: "eu-west-1" });
const servers = new SecurityGroup(web, "web-servers", { vpcId: "vpc-0123456789abcdef0" });
const role = new IamRole(web, "web-role", { assumeRolePolicy: "{}" });
const imported = RedisReplicationGroup.fromAttributes(web, "cache", cache.attributes);
imported.allowFromSecurityGroup(servers.id, "web servers");
imported.grantReadPassword(role.name);
new TerraformOutput(web, "redis-ca", { value: imported.caCertificatePem });
app.synth();
`;

let dir = "";
let tarball = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "package-"));
  // prepack builds dist/ first: a pack from a fresh clone is never empty.
  const out = execFileSync("npm", ["pack", "--pack-destination", dir, "--json"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  tarball = join(dir, (JSON.parse(out.slice(out.indexOf("["))) as Array<{ filename: string }>)[0].filename);
}, 180_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the tarball holds the compiled library, its types and the boot assets, and nothing else", () => {
  const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n");
  expect(files).toEqual(expect.arrayContaining(["package/dist/lib/index.js", "package/dist/lib/index.d.ts", "package/dist/lib/boot/assets/boot.sh", "package/dist/lib/boot/parts/assets/secret-fetch.sh"]));
  expect(files.filter((f) => !/^package\/(dist\/lib\/.*\.(js|d\.ts|sh)|package\.json|README\.md|LICENSE|CHANGELOG\.md)$/.test(f))).toEqual([]);
});

/** The packages that the compiled library under `dir` imports (not Node's own modules, not its own files). */
function packagesImportedUnder(dir: string): string[] {
  const names = new Set<string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".js")) continue;
    for (const [, specifier] of readFileSync(join(entry.parentPath, entry.name), "utf8").matchAll(/\brequire\("([^".][^"]*)"\)/g)) {
      const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0];
      if (!builtinModules.includes(name.replace(/^node:/, ""))) names.add(name);
    }
  }
  return [...names].sort();
}

test("installs into a fresh app of its kit, compiles strictly and synthesizes two stacks that share a group", () => {
  const app = join(dir, "app");
  const modules = join(app, "node_modules");
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  // A real directory, as npm installs it (a symlink would make Node resolve the peers from the tarball's folder).
  const installed = join(modules, manifest.name);
  mkdirSync(installed, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"]);
  // Every package the library loads is a peer (the app brings it) or a dependency, and every peer is one it loads.
  const peers = Object.keys(manifest.peerDependencies).sort();
  const dependencies = Object.keys(manifest.dependencies ?? {});
  expect(packagesImportedUnder(join(installed, "dist", "lib"))).toEqual([...peers, ...dependencies].sort());
  // The peers and the package's own dependencies, from this checkout's install; nothing else is there.
  for (const name of [...peers, ...dependencies, "@types/node"]) {
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", name), join(modules, name), "dir");
  }
  writeFileSync(join(app, "main.ts"), APP);
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  const compile = spawnSync(
    process.execPath,
    [tsc, "--strict", "--esModuleInterop", "--skipLibCheck", "--types", "node", "--target", "ES2018", "--module", "commonjs", "--outDir", join(app, "out"), "main.ts"],
    { cwd: app, encoding: "utf8" },
  );
  expect({ status: compile.status, output: compile.stdout + compile.stderr }).toEqual({ status: 0, output: "" });

  const outdir = join(app, "cdktf.out");
  const run = spawnSync(process.execPath, [join(app, "out", "main.js"), outdir], { cwd: app, encoding: "utf8" });
  expect(run.status === 0 ? "exit 0" : `exit ${run.status}: ${run.stderr}`).toBe("exit 0");
  expect(readdirSync(join(outdir, "stacks")).sort()).toEqual(["data", "web"]);
  const web = JSON.parse(readFileSync(join(outdir, "stacks", "web", "cdk.tf.json"), "utf8")) as TerraformJson;
  const rules = Object.values(resources(web, "aws_vpc_security_group_ingress_rule"));
  expect(rules.map((r) => `${r.from_port} ${r.referenced_security_group_id}`).sort()).toEqual([
    "26379 ${aws_security_group.web-servers.id}",
    "6379 ${aws_security_group.web-servers.id}",
  ]);
  // Every policy of the stack, so that a grant in a second one cannot go unseen: one, on the web role.
  expect(Object.values(resources(web, "aws_iam_role_policy")).map((p) => p.role)).toEqual(["${aws_iam_role.web-role.name}"]);
  // The application user's password and the sentinel-client user's, from the other stack's state.
  expect(iamStatements(web)).toEqual([
    {
      policy: expect.stringMatching(/^aws_iam_role_policy\./),
      effect: "Allow",
      actions: ["ssm:GetParameter"],
      resources: [
        expect.stringMatching(/^\$\{data\.terraform_remote_state\..*users_app_password_/),
        expect.stringMatching(/^\$\{data\.terraform_remote_state\..*users_sentinel-client_password_/),
      ],
    },
  ]);
  // The CA certificate reaches the other stack's clients.
  expect(web.output["redis-ca"].value).toMatch(/^\$\{data\.terraform_remote_state\.[\w-]+\.outputs\.[\w-]+\}$/);
  const data = JSON.parse(readFileSync(join(outdir, "stacks", "data", "cdk.tf.json"), "utf8")) as TerraformJson;
  expect(Object.keys(resources(data, "aws_instance"))).toHaveLength(3);
  // The group brought the tls provider its certificates need.
  expect(data.provider.tls).toEqual([{}]);
  expect(Object.keys(resources(data, "tls_locally_signed_cert"))).toHaveLength(3);
}, 120_000);
