// Shared fixtures of the unit tests: synthesized JSON, user data, redis.conf.
import { createHash } from "crypto";
import { spawnSync } from "child_process";
import { createServer } from "net";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { AnnotationMetadataEntryType, Testing, TerraformStack } from "cdktf";
import { IConstruct } from "constructs";
import { parse } from "yaml";
import { BootLibraryLocation, bootLibrary, libraryPathOnNode, NODE_ENV_PATH, RedisConfSettings, SentinelConfSettings, unescapeTerraformTemplate } from "../lib/boot";

// ---- Synthesized JSON ----

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TerraformJson = Record<string, any>;
export type ResourceRecord = Record<string, TerraformJson>;

/** A stack with an AWS provider (node.addValidation needs one), for construct tests. */
export function newStack(id = "test"): TerraformStack {
  const stack = new TerraformStack(Testing.app(), id);
  new AwsProvider(stack, "aws", { region: "us-east-1" });
  return stack;
}

/** The parsed `Testing.synth(stack)` JSON (without the "//" metadata). */
export function synthJson(stack: TerraformStack): TerraformJson {
  return JSON.parse(Testing.synth(stack)) as TerraformJson;
}

/** The resources of one Terraform type, by logical id; {} when there is none. */
export function resources(json: TerraformJson, type: string): ResourceRecord {
  return (json.resource?.[type] ?? {}) as ResourceRecord;
}

/** The data sources of one Terraform type, by logical id; {} when there is none. */
export function dataSources(json: TerraformJson, type: string): ResourceRecord {
  return (json.data?.[type] ?? {}) as ResourceRecord;
}

/**
 * The construct path (relative to the stack) a cdktf logical id was made
 * from: "redis_replica-1_instance_5DB22505" -> "redis/replica-1/instance".
 * Testing.synth drops the "//" metadata that holds the real path.
 */
export function pathOfLogicalId(logicalId: string): string {
  return logicalId.replace(/_[0-9A-F]{8}$/, "").split("_").join("/");
}

/** The logical id of the `type` resource at construct path `path` (relative to the stack). */
export function logicalIdAt(json: TerraformJson, type: string, path: string): string {
  const ids = Object.keys(resources(json, type)).filter((id) => pathOfLogicalId(id) === path);
  if (ids.length !== 1) throw new Error(`expected one ${type} at ${path}, found ${ids.length}`);
  return ids[0];
}

/** The Terraform reference to a node's own address: its network interface's private_ip. */
export function eniAddressRef(json: TerraformJson, nodePath: string): string {
  return `\${aws_network_interface.${logicalIdAt(json, "aws_network_interface", `${nodePath}/eni`)}.private_ip}`;
}

/**
 * The readable #cloud-config (a Terraform template) of an aws_instance: the
 * local that its `user_data_base64 = base64gzip(local.<name>)` compresses.
 */
export function readableUserData(json: TerraformJson, instance: TerraformJson): string {
  if (instance.user_data !== undefined) throw new Error("expected user_data_base64 (gzip-compressed), found plain user_data");
  const name = /^\$\{base64gzip\(local\.([\w-]+)\)\}$/.exec(instance.user_data_base64 ?? "")?.[1];
  const text = name === undefined ? undefined : json.locals?.[name];
  if (typeof text !== "string") throw new Error(`user_data_base64 is not base64gzip(local.<user data>): ${instance.user_data_base64}`);
  return text;
}

/**
 * The readable user data of every aws_instance, keyed by the path of the node
 * that owns the instance ("redis/master", "redis/replica-1", "cache/sentinel-2").
 */
export function userDataOf(json: TerraformJson): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, instance] of Object.entries(resources(json, "aws_instance"))) {
    out[pathOfLogicalId(id).replace(/\/instance$/, "")] = readableUserData(json, instance);
  }
  return out;
}

// ---- User data ----

interface WriteFileEntry {
  path: string;
  content: string;
}

/** `${...}` that Terraform interpolates (a `$${` escape is literal text). */
export const TERRAFORM_INTERPOLATION = /(?<!\$)\$\{([^}]*)\}/g;

/**
 * What Terraform makes of a string template: interpolations replaced by
 * `value`, escapes undone. Enough to check the text an instance receives.
 */
export function renderTerraformTemplate(text: string, value = "10.0.0.10"): string {
  return unescapeTerraformTemplate(text.replace(TERRAFORM_INTERPOLATION, () => value));
}

/** The parsed #cloud-config document. */
export function parseCloudConfig(userData: string): TerraformJson {
  if (!userData.startsWith("#cloud-config\n")) {
    throw new Error(`user data does not start with "#cloud-config": ${JSON.stringify(userData.slice(0, 40))}`);
  }
  return parse(userData) as TerraformJson;
}

/**
 * write_files of a #cloud-config user data as path -> content. Scripts
 * ("#!" files) are unescaped the way Terraform renders the template, so
 * they read as the shell that runs on the node.
 */
export function cloudConfigFiles(userData: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of (parseCloudConfig(userData).write_files ?? []) as WriteFileEntry[]) {
    files[f.path] = f.content.startsWith("#!") ? unescapeTerraformTemplate(f.content) : f.content;
  }
  return files;
}

/** A boot library location for rendering user data without a stack. */
export const TEST_LIBRARY: BootLibraryLocation = { parameterNames: ["/test/boot/0", "/test/boot/1"], sha256: bootLibrary().sha256 };

/** A node.env variable of a user data (NAME='value' lines; values without quotes inside). */
export function nodeEnvVariable(userData: string, name: string): string | undefined {
  const env = cloudConfigFiles(userData)[NODE_ENV_PATH] ?? "";
  return new RegExp(`^${name}='([^']*)'$`, "m").exec(env)?.[1];
}

/**
 * The boot library a node installs, read the way its entry script reads it:
 * the values of the SSM parameters its node.env names, in order (Terraform
 * escapes undone), checked against the SHA-256 its user data pins. Returns
 * the files at their paths on the node.
 */
export function libraryFilesOf(json: TerraformJson, userData: string): Record<string, string> {
  const names = nodeEnvVariable(userData, "BOOT_LIBRARY_PARAMETERS");
  const pinned = nodeEnvVariable(userData, "BOOT_LIBRARY_SHA256");
  if (!names || !pinned) throw new Error("the user data's node.env names no boot library");
  const bundle = names
    .split(" ")
    .map((ref) => {
      const id = /^\$\{aws_ssm_parameter\.([^.]+)\.name\}$/.exec(ref)?.[1];
      const value = id && json.resource?.aws_ssm_parameter?.[id]?.value;
      if (typeof value !== "string") throw new Error(`boot library parameter ${ref} is not an aws_ssm_parameter of the stack`);
      return unescapeTerraformTemplate(value);
    })
    .join("");
  const actual = createHash("sha256").update(bundle, "utf8").digest("hex");
  if (actual !== pinned) throw new Error(`the boot library's parameters hash to ${actual}, the user data pins ${pinned}`);
  const files = JSON.parse(bundle) as Record<string, [string, string]>;
  return Object.fromEntries(Object.entries(files).map(([path, [, text]]) => [libraryPathOnNode(path), text]));
}

/** Every file the boot puts on a node: its user data's write_files and the boot library. */
export function nodeFilesOf(json: TerraformJson, userData: string): Record<string, string> {
  return { ...cloudConfigFiles(userData), ...libraryFilesOf(json, userData) };
}

// ---- redis.conf / sentinel.conf, read the way Redis reads them ----

/** One line of redis.conf / sentinel.conf as Redis reads it. */
export interface ParsedDirective {
  /** Lower-cased, as Redis compares it. */
  readonly name: string;
  readonly args: string[];
}

const isHex = (b: number | undefined): boolean => b !== undefined && /^[0-9a-fA-F]$/.test(String.fromCharCode(b));
const isSpace = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09 || b === 0x00;

/**
 * Splits one line into arguments with the rules of Redis' `sdssplitargs`:
 * double quotes with \\ \" \n \r \t \b \a \xHH escapes, single quotes with
 * \', and a closing quote that must be followed by a space or the end.
 * Arguments are decoded as UTF-8 from the bytes Redis would see.
 * @throws on unbalanced quotes, as Redis refuses such a line
 */
export function splitRedisArgs(line: string): string[] {
  const bytes = Buffer.from(line, "utf8");
  const args: string[] = [];
  let i = 0;
  const at = (k: number): number | undefined => (k < bytes.length ? bytes[k] : undefined);
  for (;;) {
    while (isSpace(at(i)) && i < bytes.length) i++;
    if (i >= bytes.length) return args;
    const current: number[] = [];
    let inDouble = false;
    let inSingle = false;
    for (let done = false; !done; ) {
      const b = at(i);
      if (inDouble) {
        if (b === undefined) throw new Error(`Unbalanced quotes in ${JSON.stringify(line)}`);
        if (b === 0x5c && at(i + 1) === 0x78 && isHex(at(i + 2)) && isHex(at(i + 3))) {
          current.push(parseInt(String.fromCharCode(bytes[i + 2], bytes[i + 3]), 16));
          i += 3;
        } else if (b === 0x5c && at(i + 1) !== undefined) {
          i++;
          const c = String.fromCharCode(bytes[i]);
          const map: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, b: 0x08, a: 0x07 };
          current.push(map[c] ?? bytes[i]);
        } else if (b === 0x22) {
          if (at(i + 1) !== undefined && !isSpace(at(i + 1))) throw new Error(`Closing quote must be followed by a space in ${JSON.stringify(line)}`);
          done = true;
        } else {
          current.push(b);
        }
      } else if (inSingle) {
        if (b === undefined) throw new Error(`Unbalanced quotes in ${JSON.stringify(line)}`);
        if (b === 0x5c && at(i + 1) === 0x27) {
          i++;
          current.push(0x27);
        } else if (b === 0x27) {
          if (at(i + 1) !== undefined && !isSpace(at(i + 1))) throw new Error(`Closing quote must be followed by a space in ${JSON.stringify(line)}`);
          done = true;
        } else {
          current.push(b);
        }
      } else if (b === undefined || isSpace(b)) {
        done = true;
      } else if (b === 0x22) {
        inDouble = true;
      } else if (b === 0x27) {
        inSingle = true;
      } else {
        current.push(b);
      }
      if (b !== undefined) i++;
    }
    args.push(Buffer.from(current).toString("utf8"));
  }
}

/**
 * Parses redis.conf / sentinel.conf text as Redis' config loader does: one
 * directive a line, blank lines and lines starting with '#' skipped.
 */
export function parseRedisConf(text: string): ParsedDirective[] {
  const out: ParsedDirective[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, "");
    if (line === "" || line.startsWith("#")) continue;
    const [name, ...args] = splitRedisArgs(line);
    out.push({ name: name.toLowerCase(), args });
  }
  return out;
}

/** The arguments of every directive `name` (optionally whose first argument is `sub`). */
export function directivesNamed(parsed: readonly ParsedDirective[], name: string, sub?: string): string[][] {
  return parsed
    .filter((d) => d.name === name && (sub === undefined || d.args[0] === sub))
    .map((d) => (sub === undefined ? d.args : d.args.slice(1)));
}

/** The arguments of the one directive `name` [sub]; throws unless there is exactly one. */
export function directiveArgs(parsed: readonly ParsedDirective[], name: string, sub?: string): string[] {
  const found = directivesNamed(parsed, name, sub);
  if (found.length !== 1) {
    throw new Error(`expected exactly one "${[name, sub].filter(Boolean).join(" ")}" directive, found ${found.length}`);
  }
  return found[0];
}

// ---- Renderer fixtures ----

/** Typical redis.conf settings of a replica; override what a test is about. */
export function redisConfSettings(overrides: Partial<RedisConfSettings> = {}): RedisConfSettings {
  return {
    nodeAddress: "10.0.1.11",
    extraBindAddresses: [],
    port: 6379,
    masterAddress: "10.0.1.10",
    masterPort: 6379,
    tcpBacklog: 2048,
    maxClients: 10000,
    maxMemory: "256mb",
    maxMemoryPolicy: "noeviction",
    appendOnly: false,
    appendFsync: "everysec",
    snapshotSchedule: "3600 1 300 100 60 10000",
    replBacklogSize: "128mb",
    replicaOutputBufferHardLimit: "1gb",
    replicaOutputBufferSoftLimit: "256mb",
    replicaOutputBufferSoftSeconds: 120,
    minReplicasToWrite: 1,
    minReplicasMaxLag: 10,
    replicaPriority: 100,
    ioThreads: 1,
    ...overrides,
  };
}

/** A master's redis.conf settings (no replicaof). */
export function masterConfSettings(overrides: Partial<RedisConfSettings> = {}): RedisConfSettings {
  return redisConfSettings({ nodeAddress: "10.0.1.10", masterAddress: undefined, masterPort: undefined, ...overrides });
}

/** Typical sentinel.conf settings; override what a test is about. */
export function sentinelConfSettings(overrides: Partial<SentinelConfSettings> = {}): SentinelConfSettings {
  return {
    nodeAddress: "10.0.1.11",
    port: 26379,
    masterName: "main",
    masterAddress: "10.0.1.10",
    masterPort: 6379,
    quorum: 2,
    downAfterMilliseconds: 5000,
    failoverTimeoutMilliseconds: 60000,
    parallelSyncs: 1,
    ...overrides,
  };
}

/** The kms:Decrypt statement that lets a role decrypt one secret of `store` ("ssm" or "secretsmanager") through that store only. */
export function kmsDecryptStatement(key: string, store: string, secretArn: string): TerraformJson {
  const context = store === "ssm" ? "kms:EncryptionContext:PARAMETER_ARN" : "kms:EncryptionContext:SecretARN";
  return {
    Effect: "Allow",
    Action: ["kms:Decrypt"],
    Resource: key,
    Condition: { StringLike: { "kms:ViaService": `${store}.*` }, StringEquals: { [context]: secretArn } },
  };
}

// ---- IAM ----

/** One statement of an identity policy in the synthesized JSON, Action and Resource as lists. */
export interface IamStatement {
  /** The policy it is in: "aws_iam_role_policy.<logical id>", "aws_iam_role.<logical id>.inline_policy[0]", ... */
  readonly policy: string;
  readonly effect: string;
  readonly actions: string[];
  readonly resources: string[];
  readonly condition?: TerraformJson;
}

/** Actions that read SSM parameters (values, possibly SecureString ones). */
export const SSM_PARAMETER_READS = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory"];

function statementsOf(policy: string, document: unknown): IamStatement[] {
  // JSON with references in it is read; a policy that is one Terraform expression (a data source's json) is not.
  let parsed: TerraformJson | undefined;
  try {
    parsed = typeof document === "string" ? (JSON.parse(document) as TerraformJson) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed?.Statement === undefined) throw new Error(`${policy}: the policy is not literal JSON (${JSON.stringify(document)}); the tests cannot read it`);
  return [parsed.Statement].flat().map((s: TerraformJson) => {
    // NotAction / NotResource grant everything but what they name: a check by action or resource would pass them by.
    if (s.NotAction !== undefined || s.NotResource !== undefined) throw new Error(`${policy}: NotAction/NotResource cannot be checked by these tests`);
    return { policy, effect: s.Effect, actions: [s.Action].flat(), resources: [s.Resource].flat(), condition: s.Condition };
  });
}

/**
 * Every statement of every identity policy a role can get in the synthesized
 * JSON: each aws_iam_role_policy, aws_iam_policy and inline_policy block of
 * an aws_iam_role, not only the first one found. Managed policies attached
 * by ARN are listed by managedPolicyAttachments.
 */
export function iamStatements(json: TerraformJson): IamStatement[] {
  const out: IamStatement[] = [];
  for (const type of ["aws_iam_role_policy", "aws_iam_policy"]) {
    for (const [id, policy] of Object.entries(resources(json, type))) out.push(...statementsOf(`${type}.${id}`, policy.policy));
  }
  for (const [id, role] of Object.entries(resources(json, "aws_iam_role"))) {
    [role.inline_policy ?? []].flat().forEach((inline: TerraformJson, i: number) => out.push(...statementsOf(`aws_iam_role.${id}.inline_policy[${i}]`, inline.policy)));
  }
  return out;
}

/** Managed policies attached to roles, as "<role> <policy ARN>", from every way Terraform attaches one. */
export function managedPolicyAttachments(json: TerraformJson): string[] {
  return [
    ...Object.values(resources(json, "aws_iam_role_policy_attachment")).map((a) => `${a.role} ${a.policy_arn}`),
    ...Object.values(resources(json, "aws_iam_role_policy_attachments_exclusive")).flatMap((a) => [a.policy_arns].flat().map((arn) => `${a.role_name} ${arn}`)),
    ...Object.entries(resources(json, "aws_iam_role")).flatMap(([id, role]) => [role.managed_policy_arns ?? []].flat().map((arn) => `aws_iam_role.${id} ${arn}`)),
  ];
}

/** Whether an IAM action pattern (`*` and `?` wildcards, case-insensitive, as IAM matches) covers `action`. */
export function actionCovers(pattern: string, action: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${regex}$`, "i").test(action);
}

/** The Allow statements that grant any of `actions` on a resource with a wildcard ("*", "arn:aws:ssm:*:*:parameter/*"). */
export function wildcardGrants(statements: readonly IamStatement[], actions: readonly string[]): IamStatement[] {
  return statements.filter(
    (s) => s.effect === "Allow" && s.resources.some((r) => r.includes("*")) && s.actions.some((pattern) => actions.some((a) => actionCovers(pattern, a))),
  );
}

// ---- Annotations, external tools ----

/** The warnings cdktf's Annotations.of(...).addWarning recorded on `scope` and below. */
export function warningsOf(scope: IConstruct): string[] {
  return scope.node
    .findAll()
    .flatMap((c) => c.node.metadata)
    .filter((m) => m.type === AnnotationMetadataEntryType.WARN)
    .map((m) => String(m.data));
}

/** Whether an external command the tests shell out to is installed. */
export function toolAvailable(command: string, versionArgs: string[] = ["--version"]): boolean {
  const probe = spawnSync(command, versionArgs, { encoding: "utf8" });
  return probe.error === undefined && probe.status === 0;
}

export type TestFn = (name: string, fn: jest.ProvidesCallback, timeout?: number) => void;

/** A command, or a command with the arguments that make it exit 0 (for one without `--version`). */
export type Tool = string | { readonly command: string; readonly args: readonly string[] };

/** The tools (by command name) that are not installed. */
export function missingTools(tools: readonly Tool[]): string[] {
  return tools
    .filter((t) => (typeof t === "string" ? !toolAvailable(t) : !toolAvailable(t.command, [...t.args])))
    .map((t) => (typeof t === "string" ? t : t.command));
}

/**
 * `test` for tests that shell out to `tools`. Locally, without the tools,
 * the tests are skipped with a console message; in CI (CI=true) they run
 * and fail, naming what is missing, so a broken CI image cannot go green.
 */
export function testNeeding(tools: readonly Tool[]): TestFn {
  const missing = missingTools(tools);
  return testUnlessMissing(missing.length === 0 ? undefined : `${missing.join(", ")} not installed (Debian/Ubuntu: apt-get install ${missing.join(" ")})`);
}

/** `test`, or, when `what` names something missing, skipped locally and failing in CI (as testNeeding). */
export function testUnlessMissing(what: string | undefined): TestFn {
  if (what === undefined) return test;
  if (process.env.CI === "true") {
    return (name, _fn, timeout) =>
      test(name, () => {
        throw new Error(`${what}; CI must run "${name}"`);
      }, timeout);
  }
  console.warn(`SKIPPED tests that need ${what}; in CI (CI=true) they fail instead.`);
  return (name, fn, timeout) => test.skip(name, fn, timeout);
}

/** A TCP port on 127.0.0.1 that is free right now (asked of the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}
