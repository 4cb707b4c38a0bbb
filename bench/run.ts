// `npm run bench`: synth time and peak RSS per scenario, each run in a fresh
// node process on precompiled JS. BENCH_RUNS (default 5) runs per scenario,
// interleaved round-robin after one discarded warm-up round. Never fails on timing.
import { spawnSync } from "child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";

const ROOT = resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SCENARIOS: [id: string, label: string][] = [
  ["floor", "floor: empty App + 1 empty TerraformStack"],
  ["floor-provider", "floor + AwsProvider (an empty app that deploys to AWS)"],
  ["group-1m2r", "1 RedisReplicationGroup, 1 master + 2 replicas (+ provider)"],
  ["basic", "examples/basic (BasicExampleStack)"],
  ["group-1m2r-given-amis", "the same + 3 dedicated sentinels, amiId and sentinel.dedicatedAmiId given"],
  ["group-1m5r", "1 RedisReplicationGroup, 1 master + 5 replicas"],
  ["groups-10x3", "10 RedisReplicationGroups x 3 nodes"],
  ["ref-provider-aws-root", 'REFERENCE: require("@cdktf/provider-aws") only, no synth'],
];

const t0 = process.hrtime.bigint();
const secs = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
const build = mkdtempSync(join(tmpdir(), "redis-bench-build-"));
try {
  // Compile once; copy the shell assets next to the compiled boot code; link node_modules so requires resolve.
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "bench/tsconfig.json"), "--outDir", build], { stdio: "inherit" });
  if (tsc.status !== 0) throw new Error("tsc failed");
  for (const dir of ["lib/boot/assets", "lib/boot/parts/assets"]) cpSync(join(ROOT, dir), join(build, dir), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(build, "node_modules"), "dir");
  console.log(`compiled in ${secs(t0).toFixed(1)} s; ${RUNS} runs per scenario (+1 warm-up), node ${process.version}\n`);

  type Sample = { ms: number; maxRssKB: number; procMs: number };
  const samples = new Map<string, Sample[]>(SCENARIOS.map(([id]) => [id, []]));
  const measure = (id: string): Sample => {
    const outdir = mkdtempSync(join(tmpdir(), "redis-bench-out-"));
    try {
      const start = process.hrtime.bigint();
      const r = spawnSync(process.execPath, [join(build, "bench/child.js"), id, outdir], { encoding: "utf8", cwd: build });
      const procMs = secs(start) * 1000;
      if (r.status !== 0) throw new Error(`scenario ${id} failed:\n${r.stderr}`);
      return { ...JSON.parse(r.stdout), procMs };
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  };
  for (const [id] of SCENARIOS) measure(id); // warm-up (disk cache), discarded
  for (let i = 0; i < RUNS; i++) for (const [id] of SCENARIOS) samples.get(id)!.push(measure(id));

  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return { med: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1] };
  };
  const fmt = (xs: number[], f: (x: number) => string) => {
    const { med, min, max } = stats(xs);
    return `${f(med)} (${f(min)}-${f(max)})`;
  };
  const sec = (ms: number) => (ms / 1000).toFixed(3);
  const mb = (kb: number) => (kb / 1024).toFixed(0);
  const rows = [["scenario", "synth s, in child", "process s, parent", "peak RSS MB"]];
  for (const [id, label] of SCENARIOS) {
    const xs = samples.get(id)!;
    rows.push([label, fmt(xs.map((x) => x.ms), sec), fmt(xs.map((x) => x.procMs), sec), fmt(xs.map((x) => x.maxRssKB), mb)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
  console.log(`
median (min-max) of ${RUNS} runs. "synth s, in child": performance.now() at the end of the child,
i.e. wall time since that node process started (module loading + synth + writing the outdir).
"process s, parent": spawn to exit, seen from the parent (adds node boot/exit).
peak RSS: process.resourceUsage().maxRSS of the child at its end (MB = 1024 KiB).`);

  const basic = samples.get("basic")!;
  const s = stats(basic.map((x) => x.ms)).med / 1000, m = stats(basic.map((x) => x.maxRssKB)).med / 1024;
  console.log(`\nbudget: <= 0.5 s and <= 120 MB  examples/basic median: ${s.toFixed(3)} s ${s <= 0.5 ? "OK" : "OVER"}, ${m.toFixed(0)} MB ${m <= 120 ? "OK" : "OVER"}  (informative only)`);
  const median = (id: string) => stats(samples.get(id)!.map((x) => x.ms)).med;
  const group = median("group-1m2r");
  for (const floorId of ["floor", "floor-provider"]) {
    const floor = median(floorId);
    console.log(`budget: a 3-node group adds <= 30% to an empty app's synth  group/${floorId}: ${(group / floor).toFixed(2)}x ${group <= floor * 1.3 ? "OK" : "OVER"}  (informative only)`);
  }

  console.log("\nuser data per node, as EC2 receives it:");
  const sizes = spawnSync(process.execPath, [join(build, "bench/user-data-sizes.js")], { encoding: "utf8", cwd: build, stdio: ["ignore", "inherit", "inherit"] });
  if (sizes.status !== 0) throw new Error("user-data-sizes failed");
  console.log(`bench total: ${secs(t0).toFixed(1)} s`);
} finally {
  rmSync(build, { recursive: true, force: true });
}
