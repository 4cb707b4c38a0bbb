// The cdktn package (cdktn-redis-replication) is built from this source by
// scripts/build-cdktn.mjs into packages/cdktn, whose manifest and lock are
// committed; `npm run test:cdktn` runs the unit tests there, on cdktn.
import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import { join } from "path";

const ROOT = join(__dirname, "..");
const manifest = (dir: string) => JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8"));

/** Runs a function of scripts/build-cdktn.mjs on `input` in a Node process of its own (the script is an ES module). */
function buildScript(fn: "rewriteSpecifiers" | "cdktfSpecifiersIn", input: string): unknown {
  const code = `import(${JSON.stringify(join(ROOT, "scripts/build-cdktn.mjs"))}).then((m) => process.stdout.write(JSON.stringify(m.${fn}(process.argv[1]))))`;
  const run = spawnSync(process.execPath, ["-e", code, input], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
}

describe("the rewrite of module specifiers", () => {
  test.each([
    ['import { App } from "cdktf";', 'import { App } from "cdktn";'],
    ["import { Instance } from '@cdktf/provider-aws/lib/instance';", "import { Instance } from '@cdktn/provider-aws/lib/instance';"],
    ['import "cdktf/lib/testing/adapters/jest";', 'import "cdktn/lib/testing/adapters/jest";'],
    ['require("cdktf").Testing.setupJest();', 'require("cdktn").Testing.setupJest();'],
    ['const kit = jest.requireActual<Kit>("cdktf");', 'const kit = jest.requireActual<Kit>("cdktn");'],
    ['type Kit = typeof import("cdktf");', 'type Kit = typeof import("cdktn");'],
    ['declare const cache: import("cdktf-redis-replication").RedisReplicationGroup;', 'declare const cache: import("cdktn-redis-replication").RedisReplicationGroup;'],
    // README snippets and an app written by a test are text, rewritten alike.
    ['const APP = `\nimport { RedisReplicationGroup } from "cdktf-redis-replication";`;', 'const APP = `\nimport { RedisReplicationGroup } from "cdktn-redis-replication";`;'],
  ])("%s", (input, output) => {
    expect(buildScript("rewriteSpecifiers", input)).toBe(output);
    expect(buildScript("cdktfSpecifiersIn", output as string)).toEqual([]);
  });

  test.each([
    'const other = name === "cdktf" ? "cdktn" : "cdktf";',
    "cdktf's stack shares its marker with cdktn's",
    'import { X } from "cdktfoo";',
    'const name = "cdktf-redis-replication";',
  ])("leaves what is no specifier: %s", (input) => {
    expect(buildScript("rewriteSpecifiers", input)).toBe(input);
  });

  test("a specifier it does not rename is reported, so the build stops", () => {
    expect(buildScript("cdktfSpecifiersIn", 'import { TlsProvider } from "@cdktf/provider-tls/lib/provider";')).toEqual(["@cdktf/provider-tls/lib/provider"]);
  });
});

describe("packages/cdktn/package.json", () => {
  const cdktf = manifest(".");
  const cdktn = manifest("packages/cdktn");
  const lock = JSON.parse(readFileSync(join(ROOT, "packages/cdktn/package-lock.json"), "utf8"));

  test("the same release, files, entry points and dependencies as this package", () => {
    expect(cdktn.name).toBe("cdktn-redis-replication");
    for (const field of ["version", "license", "main", "types", "files", "dependencies"]) expect({ field, value: cdktn[field] }).toEqual({ field, value: cdktf[field] });
    expect(cdktn.scripts.build).toBe(cdktf.scripts.build);
    expect(cdktn.scripts.prepack).toBe(cdktf.scripts.prepack);
  });

  test("peers: cdktn, constructs and @cdktn/provider-aws; the versions it is tested with are locked", () => {
    expect(Object.keys(cdktn.peerDependencies).sort()).toEqual(["@cdktn/provider-aws", "cdktn", "constructs"]);
    for (const name of Object.keys(cdktn.peerDependencies)) {
      expect({ name, locked: lock.packages[`node_modules/${name}`]?.version }).toEqual({ name, locked: cdktn.devDependencies[name] });
    }
    expect(lock.packages[""].name).toBe("cdktn-redis-replication");
    expect(Object.keys(lock.packages).filter((p) => /node_modules\/(cdktf|@cdktf\/)/.test(p))).toEqual([]);
  });

  test("npm run test:cdktn builds the tree, installs it from its lock and runs its tests", () => {
    expect(cdktf.scripts["test:cdktn"]).toMatch(/^node scripts\/build-cdktn\.mjs && cd packages\/cdktn && npm ci .*&& .*npm test -- --ci$/);
  });
});
