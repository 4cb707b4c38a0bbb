// The user data of both examples, checked with the tools that will read it.
import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { Testing } from "cdktf";
import { BasicExampleStack } from "../examples/basic/main";
import { ExistingAppStack } from "../examples/existing-app/main";
import { PASSWORD_PLACEHOLDER } from "../lib/config";
import { cloudConfigFiles, renderTerraformTemplate, TERRAFORM_INTERPOLATION, testNeeding, userDataOf } from "./helpers";

const withCloudInit = testNeeding(["cloud-init"]);
const withShellcheck = testNeeding(["shellcheck"]);

const examples: Record<string, { synth: string; userData: Record<string, string> }> = {};
let dir = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "user-data-"));
  const stacks = {
    basic: new BasicExampleStack(Testing.app(), "basic", { region: "eu-central-1" }),
    "existing-app": new ExistingAppStack(Testing.app(), "existing-app"),
  };
  for (const [name, stack] of Object.entries(stacks)) {
    const synth = Testing.synth(stack);
    examples[name] = { synth, userData: userDataOf(JSON.parse(synth)) };
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every node of an example, as [node path, user data]. */
const nodesOf = (example: string): Array<[string, string]> => Object.entries(examples[example].userData);

/** Every string in a JSON document, keys included, decoded. */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [k, ...stringsIn(v)]);
  return [];
}

function run(command: string, args: string[], file: string, content: string): { status: number | null; output: string } {
  writeFileSync(file, content);
  const result = spawnSync(command, [...args, file], { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}${result.error ?? ""}` };
}

describe.each(["basic", "existing-app"])("example %s", (example) => {
  test("has three nodes with user data", () => {
    expect(nodesOf(example)).toHaveLength(3);
  });

  withCloudInit("every node's user data, as synthesized and as Terraform renders it, passes cloud-init schema", () => {
    for (const [node, userData] of nodesOf(example)) {
      for (const [form, text] of [["template", userData], ["rendered", renderTerraformTemplate(userData)]]) {
        const file = join(dir, `${example}-${node.replace(/\//g, "-")}-${form}.yaml`);
        const result = run("cloud-init", ["schema", "--config-file"], file, text);
        expect({ node, form, ...result }).toEqual({ node, form, status: 0, output: expect.stringContaining("Valid cloud-config") });
      }
    }
  });

  withShellcheck("every shell script in write_files passes shellcheck -s bash", () => {
    let scripts = 0;
    for (const [node, userData] of nodesOf(example)) {
      for (const [path, content] of Object.entries(cloudConfigFiles(userData))) {
        if (!content.startsWith("#!")) continue;
        scripts++;
        const result = run("shellcheck", ["-s", "bash"], join(dir, `${example}-${node.replace(/\//g, "-")}.sh`), content);
        expect({ node, path, ...result }).toEqual({ node, path, status: 0, output: "" });
      }
    }
    expect(scripts).toBe(nodesOf(example).length);
  });

  test("the only ${ left are Terraform references, and there is no %{ directive", () => {
    const reference = /^(aws_[a-z0-9_]+\.[\w-]+\.[a-z_]+|data\.aws_[a-z0-9_]+\.[\w-]+\.[a-z_]+|floor\(\(data\.aws_ec2_instance_type\.[\w-]+\.memory_size \* [\d.]+\)\))$/;
    for (const [node, userData] of nodesOf(example)) {
      const interpolations = [...userData.matchAll(TERRAFORM_INTERPOLATION)].map((m) => m[1]);
      expect(interpolations.length).toBeGreaterThan(0);
      expect({ node, bad: interpolations.filter((i) => !reference.test(i)) }).toEqual({ node, bad: [] });
      // An unclosed "${" would be a Terraform syntax error.
      expect(userData.replace(TERRAFORM_INTERPOLATION, "").match(/(?<!\$)\$\{/g)).toBeNull();
      expect(userData.match(/(?<!%)%\{/g)).toBeNull();
    }
  });

  test("no password in the synthesized JSON", () => {
    const strings = stringsIn(JSON.parse(examples[example].synth));
    const passwordLines = strings.flatMap((s) => [...s.matchAll(/^\s*(requirepass|masterauth|sentinel auth-pass \S+) (.*)$/gm)]);
    expect(passwordLines.length).toBeGreaterThanOrEqual(3 * 3);
    expect(passwordLines.filter((m) => m[2] !== `"${PASSWORD_PLACEHOLDER}"`).map((m) => m[0])).toEqual([]);
    expect(strings.flatMap((s) => s.match(/(?<![A-Za-z0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])/g) ?? [])).toEqual([]);
  });
});
