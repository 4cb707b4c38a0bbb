// The user data of both examples, checked with the tools that will read it.
import { spawnSync } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { Testing } from "cdktf";
import { BasicExampleStack } from "../examples/basic/main";
import { ExistingAppStack } from "../examples/existing-app/main";
import { gzipSync } from "zlib";
import { bootLibrary, passwordPlaceholder, SECRET_PLACEHOLDER, USER_DATA_BUDGET_BYTES } from "../lib/boot";
import {
  cloudConfigFiles,
  directiveArgs,
  nodeFilesOf,
  parseCloudConfig,
  parseRedisConf,
  renderTerraformTemplate,
  TERRAFORM_INTERPOLATION,
  testNeeding,
  userDataOf,
} from "./helpers";

const withCloudInit = testNeeding(["cloud-init"]);
const withShellcheck = testNeeding(["shellcheck"]);

const examples: Record<string, { synth: string; userData: Record<string, string> }> = {};
let dir = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "user-data-"));
  const stacks = {
    basic: new BasicExampleStack(Testing.app(), "basic", { region: "eu-central-1" }),
    "existing-app": new ExistingAppStack(Testing.app(), "existing-app"),
    "basic with monitoring": new BasicExampleStack(Testing.app(), "basic-monitoring", { region: "eu-central-1", monitoring: { enabled: true } }),
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

describe.each(["basic", "existing-app", "basic with monitoring"])("example %s", (example) => {
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
      for (const [path, content] of Object.entries(nodeFilesOf(JSON.parse(examples[example].synth), userData))) {
        if (!content.startsWith("#!")) continue;
        scripts++;
        const result = run("shellcheck", ["-s", "bash"], join(dir, `${example}-${node.replace(/\//g, "-")}.sh`), content);
        expect({ node, path, ...result }).toEqual({ node, path, status: 0, output: "" });
      }
    }
    // Per node, in the user data: the entry script, common.sh, aws.sh; in the boot library it
    // installs: boot.sh, redis.sh, node-restart.sh (the rolling restart's command), and the steps of tuning, updates, secret fetch, tls, data volume, redis-server, redis-role, sentinel events, dns, sentinel, planned failover, metrics, ssm-agent (every library file, run or not).
    expect(scripts).toBe(nodesOf(example).length * 19);
  });

  test("every node's user data as EC2 receives it (gzip of the rendered template) is within the 8 KB budget", () => {
    for (const [node, userData] of nodesOf(example)) {
      // A worst-case address for each reference: references are replaced by what they stand for.
      const received = gzipSync(Buffer.from(renderTerraformTemplate(userData, "255.255.255.255"), "utf8")).length;
      expect({ node, received, withinBudget: received <= USER_DATA_BUDGET_BYTES }).toEqual({ node, received, withinBudget: true });
      expect(received).toBeLessThan(Buffer.byteLength(userData) / 2);
    }
  });

  test("the cloud-config still holds the node's settings: sysctl, THP, bind, auth, replicaof, sentinel monitor", () => {
    const nodes = nodesOf(example);
    const master = nodes.find(([n]) => n.endsWith("/master"))![1];
    const masterBind = directiveArgs(parseRedisConf(cloudConfigFiles(master)["/etc/redis-node/redis.conf.template"]), "bind")[0];
    for (const [node, userData] of nodes) {
      const files = cloudConfigFiles(userData);
      expect(parseCloudConfig(userData).packages).toEqual(expect.arrayContaining(["redis-server", "redis-sentinel"]));
      expect(files["/etc/sysctl.d/60-redis.conf"]).toMatch(/^vm\.overcommit_memory = 1$/m);
      expect(files["/etc/sysctl.d/60-redis.conf"]).toMatch(/^net\.core\.somaxconn = 4096$/m);
      expect(files["/etc/systemd/system/redis-disable-thp.service"]).toContain("echo never > /sys/kernel/mm/transparent_hugepage/enabled");
      const redis = parseRedisConf(files["/etc/redis-node/redis.conf.template"]);
      expect(directiveArgs(redis, "bind")[1]).toBe("127.0.0.1");
      expect(directiveArgs(redis, "masteruser")).toEqual(["replication"]);
      expect(directiveArgs(redis, "masterauth")).toEqual([passwordPlaceholder("replication")]);
      expect(files["/etc/redis-node/users.acl.template"]).toMatch(/^user default off /m);
      const replicaof = redis.filter((d) => d.name === "replicaof").map((d) => d.args);
      expect(replicaof).toEqual(node.endsWith("/master") ? [] : [[masterBind, "6379"]]);
      const sentinel = parseRedisConf(files["/etc/redis-node/sentinel.conf.template"]);
      expect(directiveArgs(sentinel, "sentinel", "monitor")).toEqual([expect.any(String), masterBind, "6379", "2"]);
    }
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

  test("no password, no hash and no TLS key in the synthesized JSON: placeholders and references only", () => {
    const strings = stringsIn(JSON.parse(examples[example].synth));
    const secretLines = strings.flatMap((s) => [...s.matchAll(/^\s*(masterauth|sentinel auth-pass \S+|sentinel sentinel-pass|user \S+ on) (\S+).*$/gm)]);
    // Per node: masterauth, auth-pass, sentinel-pass, 4 sentinel users (5 with monitoring: monitor), 6 data node users (node-ops on both).
    expect(secretLines.length).toBe(3 * (example === "basic with monitoring" ? 14 : 13));
    const placeholder = new RegExp(`^#?"?${SECRET_PLACEHOLDER.source}"?$`);
    expect(secretLines.filter((m) => !placeholder.test(m[2])).map((m) => m[0])).toEqual([]);
    expect(strings.flatMap((s) => s.match(/(?<![A-Za-z0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])/g) ?? [])).toEqual([]);
    // The one SHA-256 in the JSON is the boot library's, which the nodes check it against.
    const hashes = strings.flatMap((s) => s.match(/(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/g) ?? []);
    expect(hashes.filter((h) => h !== bootLibrary().sha256)).toEqual([]);
    expect(strings.filter((s) => /requirepass/.test(s))).toEqual([]);
    // TLS keys and certificates are references to Terraform's tls resources, never PEM text.
    expect(strings.filter((s) => /PRIVATE KEY|BEGIN CERTIFICATE/.test(s))).toEqual([]);
    expect(strings.filter((s) => /^\$\{tls_private_key\.[\w-]+\.private_key_pem\}$/.test(s))).not.toEqual([]);
  });
});
