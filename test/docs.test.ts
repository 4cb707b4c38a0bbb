// Every TypeScript snippet of the README compiles against the library as a
// user's app sees it ("cdktf-redis-replication" is mapped to lib/), strict.
// A snippet's free names (the user's own VPC, roles, ...) are declared below:
// a new one in the README must be declared here on purpose.
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError } from "../lib";

const ROOT = join(__dirname, "..");

/** Names the snippets use without defining them: things of the user's own app. */
const FREE_NAMES = `
declare const vpc: { id: string };
declare const vpcId: string;
declare const subnetIds: string[];
declare const privateSubnets: { ids: string[] };
declare const webServers: { id: string };
declare const workers: { id: string };
declare const appRole: { name: string };
declare const webRole: { name: string };
declare const workerRole: { name: string };
declare const operatorsRole: { name: string };
declare const cache: import("cdktf-redis-replication").RedisReplicationGroup;
declare class MyStack extends TerraformStack {}
declare const expect: (value: unknown) => { toMatchSnapshot(): void };
`;

/** The ```ts blocks of a Markdown text, with the line each starts on. */
export function typescriptBlocks(markdown: string): Array<{ line: number; code: string }> {
  const blocks: Array<{ line: number; code: string }> = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```ts") continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== "```") end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join("\n") });
    i = end;
  }
  return blocks;
}

/**
 * A module for one snippet: its imports on top, the rest in the constructor
 * of a stack, where `this` is the scope, as in a user's stack.
 */
function moduleOf(code: string): string {
  const lines = code.split("\n");
  const imports = lines.filter((l) => /^import /.test(l));
  const body = lines.filter((l) => !/^import /.test(l));
  // A snippet may declare `cache` itself; the shared declaration would clash.
  const free = /\bconst cache\b/.test(code) ? FREE_NAMES.replace(/^declare const cache: .*$/m, "") : FREE_NAMES;
  return [
    ...imports,
    'import { TerraformStack as SnippetStack } from "cdktf";',
    'import { TerraformStack } from "cdktf";',
    'import { Construct as SnippetScope } from "constructs";',
    "export {};",
    free,
    "export class Snippet extends SnippetStack {",
    "  constructor(scope: SnippetScope) {",
    '    super(scope, "snippet");',
    ...body.map((l) => `    ${l}`),
    "  }",
    "}",
  ].join("\n");
}

test("the block extractor finds fenced ts blocks and their lines", () => {
  expect(typescriptBlocks("a\n```ts\nconst x = 1;\n```\n```sh\nls\n```\n```ts\nlet y;\n```\n")).toEqual([
    { line: 3, code: "const x = 1;" },
    { line: 9, code: "let y;" },
  ]);
});

test("every TypeScript snippet of the README compiles, strict, against the library", () => {
  const blocks = typescriptBlocks(README());
  expect(blocks.length).toBeGreaterThanOrEqual(4);
  const dir = mkdtempSync(join(tmpdir(), "readme-snippets-"));
  try {
    const files = blocks.map((b, i) => {
      const file = join(dir, `snippet-${i + 1}-line-${b.line}.ts`);
      writeFileSync(file, moduleOf(b.code));
      return file;
    });
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          esModuleInterop: true,
          skipLibCheck: true,
          target: "ES2020",
          module: "commonjs",
          moduleResolution: "node",
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules/@types")],
          baseUrl: ROOT,
          // The package's name (the cdktn package's for its tree), as the snippets import it.
          paths: { [JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).name]: ["lib/index.ts"], "*": ["node_modules/*"] },
        },
        files,
      }),
    );
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    // Name the README line of each error instead of the temporary file.
    const output = (tsc.stdout + tsc.stderr).replace(/\S*snippet-\d+-line-(\d+)\.ts\((\d+),\d+\)/g, (_, line) => `README.md snippet at line ${line}`);
    expect({ status: tsc.status, output }).toEqual({ status: 0, output: "" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);

// ---- The README says what the code does ----

const README = () => readFileSync(join(ROOT, "README.md"), "utf8");

/** The text between `<!-- name:start -->` and `<!-- name:end -->`. */
function marked(markdown: string, name: string): string {
  const found = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)<!-- ${name}:end -->`).exec(markdown);
  if (!found) throw new Error(`README.md has no ${name} markers`);
  return found[1];
}

/** The rows of the outputs table: output name (with `<id>`) and when it exists. */
function outputsTable(markdown: string): Array<{ name: string; when: string }> {
  return marked(markdown, "outputs-table")
    .split("\n")
    .filter((l) => /^\| `/.test(l))
    .map((l) => l.split("|").map((cell) => cell.trim()))
    .map((cells) => ({ name: cells[1].replace(/`/g, ""), when: cells[3] }));
}

describe("the README's outputs table", () => {
  const synthOutputs = (props: Partial<RedisReplicationGroupProps>): string[] => {
    const stack = new TerraformStack(Testing.app(), "app");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    new RedisReplicationGroup(stack, "cache", { vpcId: "vpc-1", subnetIds: ["subnet-a"], ...props });
    return Object.keys(JSON.parse(Testing.synth(stack)).output).sort();
  };
  const documented = (exists: (when: string) => boolean): string[] =>
    outputsTable(README())
      .filter((row) => exists(row.when))
      .map((row) => row.name.replace("<id>", "cache"))
      .sort();

  test("every row says when: always, Sentinel on or TLS on", () => {
    const rows = outputsTable(README());
    expect(rows.length).toBeGreaterThanOrEqual(8);
    expect(rows.filter((r) => !["always", "Sentinel on", "TLS on"].includes(r.when))).toEqual([]);
  });

  test.each([
    { case: "Sentinel and TLS on (the defaults)", props: {}, sentinel: true, tls: true },
    { case: "Sentinel off", props: { sentinel: { enabled: false } }, sentinel: false, tls: true },
    { case: "TLS off", props: { tls: { enabled: false } }, sentinel: true, tls: false },
  ])("names exactly the outputs a group synthesizes: $case", ({ props, sentinel, tls }) => {
    const exists = (when: string) => when === "always" || (when === "Sentinel on" && sentinel) || (when === "TLS on" && tls);
    expect(synthOutputs(props)).toEqual(documented(exists));
  });
});

describe("the README's error examples", () => {
  const errorOf = (props: Partial<RedisReplicationGroupProps>): string => {
    const stack = new TerraformStack(Testing.app(), "app");
    try {
      new RedisReplicationGroup(stack, "cache", { vpcId: "vpc-1", subnetIds: ["subnet-a"], ...props });
    } catch (error) {
      expect(error).toBeInstanceOf(RedisReplicationValidationError);
      return (error as Error).message;
    }
    throw new Error("no error");
  };

  test("one problem: the inline example is the real message", () => {
    const inline = /`(\[app\/cache\] replicaCount[^`]*)`/.exec(README())?.[1];
    expect(inline).toBe(errorOf({ replicaCount: 1.5 }));
  });

  test("several problems: the fenced example is the real message, one a line", () => {
    const fenced = /```\n(\[app\/cache\] \d+ problems:\n[\s\S]*?)\n```/.exec(README())?.[1];
    expect(fenced).toBe(errorOf({ replicaCount: 16, redis: { port: 0 } }));
  });
});
