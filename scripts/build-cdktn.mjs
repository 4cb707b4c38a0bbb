#!/usr/bin/env node
// Builds the source tree of the cdktn package (cdktn-redis-replication) in
// packages/cdktn from this repository's: lib/, examples/, the unit tests
// (not test/vm, not test/integration), README, LICENSE, CHANGELOG and the
// configs, with the module specifiers rewritten for CDK Terrain:
//   "cdktf"                   -> "cdktn"
//   "@cdktf/provider-aws/..." -> "@cdktn/provider-aws/..."
//   "cdktf-redis-replication" -> "cdktn-redis-replication"
// Only module specifiers change: a quoted name (or name/subpath) after
// `from`, `import`, `import(`, `require(`, `require.resolve(` or
// `jest.requireActual(`, also in text (README snippets, an app written by a
// test); "cdktf" elsewhere (prose, a kit's name in a test) stays. The tests
// in test-cdktn/ are copied as they are, into test/cdktn/ (they load both
// kits on purpose). packages/cdktn keeps its own package.json and
// package-lock.json (committed); everything else there is generated.
//
//   node scripts/build-cdktn.mjs   then   cd packages/cdktn && npm ci && npx jest
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "packages", "cdktn");
/** What packages/cdktn keeps from one build to the next. */
const KEPT = new Set(["package.json", "package-lock.json", ".gitignore", "node_modules"]);
/** Paths (relative to the repository) that are not part of the cdktn tree. */
const LEFT_OUT = new Set([
  "test/vm",
  "test/integration",
  // Compares the library's tls bindings with @cdktf/provider-tls, which exists for cdktf only.
  "test/constructs/tls-resources.test.ts",
  // Tests this script and packages/cdktn's manifest, from the repository.
  "test/cdktn-package.test.ts",
]);
const RENAMED = {
  cdktf: "cdktn",
  "@cdktf/provider-aws": "@cdktn/provider-aws",
  "cdktf-redis-replication": "cdktn-redis-replication",
};
/** What stands before a module specifier. */
const BEFORE = String.raw`(\bfrom\s*|\bimport\s*\(?\s*|\brequire(?:\.resolve)?\s*\(\s*|\brequireActual(?:<[^>()]*>)?\s*\(\s*)`;
const SPECIFIER = new RegExp(String.raw`${BEFORE}(["'])(cdktf-redis-replication|@cdktf/provider-aws|cdktf)(?=(?:/[^"'\n]*)?\2)`, "g");
const CDKTF_SPECIFIER = new RegExp(String.raw`${BEFORE}(["'])((?:@cdktf/[\w-]+|cdktf(?:-redis-replication)?)(?:/[^"'\n]*)?)\2`, "g");

/** The text with every module specifier of cdktf renamed for cdktn. */
export function rewriteSpecifiers(text) {
  return text.replace(SPECIFIER, (_, before, quote, name) => before + quote + RENAMED[name]);
}

/** Module specifiers of cdktf left in a text after the rewrite: there must be none. */
export function cdktfSpecifiersIn(text) {
  return [...text.matchAll(CDKTF_SPECIFIER)].map((m) => m[3]);
}

const REWRITTEN = /\.(ts|js|mjs|json|md)$/;

/** The cdktn package's README starts by saying what it is. */
const README_HEAD = `# cdktn-redis-replication

> The CDK Terrain (cdktn) build of cdktf-redis-replication: the same
> library, from the same source, for apps on \`cdktn\` and
> \`@cdktn/provider-aws\`. Its snippets import the cdktn packages; where
> the text says cdktf, read cdktn (\`cdktn synth\`, \`cdktn deploy\`).
`;

function copyTree(from, to, rewrite) {
  const rel = relative(ROOT, from);
  if (LEFT_OUT.has(rel)) return;
  if (statSync(from).isDirectory()) {
    mkdirSync(to, { recursive: true });
    for (const name of readdirSync(from)) copyTree(join(from, name), join(to, name), rewrite);
    return;
  }
  if (!rewrite || !REWRITTEN.test(from)) {
    cpSync(from, to);
    return;
  }
  const text = rewriteSpecifiers(readFileSync(from, "utf8"));
  const left = cdktfSpecifiersIn(text);
  if (left.length > 0) throw new Error(`build-cdktn: ${rel} still names ${left.join(", ")} after the rewrite`);
  writeFileSync(to, text);
}

function build() {
  if (!existsSync(join(OUT, "package.json"))) throw new Error(`build-cdktn: ${relative(ROOT, OUT)}/package.json is missing`);
  for (const name of readdirSync(OUT)) if (!KEPT.has(name)) rmSync(join(OUT, name), { recursive: true, force: true });

  for (const dir of ["lib", "examples", "test"]) copyTree(join(ROOT, dir), join(OUT, dir), true);
  copyTree(join(ROOT, "test-cdktn"), join(OUT, "test", "cdktn"), false);
  for (const file of ["README.md", "tsconfig.build.json", "jest.config.js"]) copyTree(join(ROOT, file), join(OUT, file), true);
  const readme = join(OUT, "README.md");
  writeFileSync(readme, readFileSync(readme, "utf8").replace(/^# cdktf-redis-replication\n/, README_HEAD));
  for (const file of ["LICENSE", "CHANGELOG.md"]) copyTree(join(ROOT, file), join(OUT, file), false);

  // The tree has no bench/; otherwise the same compiler settings.
  const tsconfig = JSON.parse(readFileSync(join(ROOT, "tsconfig.json"), "utf8"));
  tsconfig.include = tsconfig.include.filter((glob) => !glob.startsWith("bench/"));
  writeFileSync(join(OUT, "tsconfig.json"), `${JSON.stringify(tsconfig, null, 2)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  build();
  console.log(`build-cdktn: ${relative(process.cwd(), OUT) || "."} holds the cdktn tree`);
}
