// `npm run bench:failover` (as root, with the packages of
// scripts/install-test-deps.sh): runs the planned-failover integration suite
// BENCH_RUNS times (default 1, about 3 minutes each) on real redis-server and
// redis-sentinel in network namespaces, and prints, side by side, how long
// two Sentinel-aware applications (ioredis, redis-py) could not write across
// a crash of the master, a bare SENTINEL FAILOVER and a planned stop (the
// step, then SIGTERM), and how long a partitioned master took writes.
// Figures only: it never fails on timing.
import { spawnSync } from "child_process";
import { resolve } from "path";

const ROOT = resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const SUITE = "test/integration/planned-failover.test.ts";

interface Sample {
  crash: number[];
  bare: number[];
  bareLost: number;
  planned: number[];
  partitionMs: number;
  partitionAccepted: number;
  majorityWritableMs: number;
  maxLag: number;
  downAfterMs: number;
}

const gaps = (line: string) => [...line.matchAll(/longest gap (\d+) ms/g)].map((m) => Number(m[1]));

function parse(output: string): Sample {
  const line = (what: string) => {
    const found = output.split("\n").find((l) => l.includes(`measure: ${what}`));
    if (!found) throw new Error(`no "measure: ${what}" line in the suite's output`);
    return found;
  };
  const partition = /min-replicas-max-lag (\d+) s, down-after-milliseconds (\d+)\): the cut-off master accepted (\d+) writes for (\d+) ms.* by (\d+) ms/.exec(line("partition"))!;
  return {
    crash: gaps(line("crash")),
    bare: gaps(line("bare SENTINEL FAILOVER")),
    bareLost: Number(/acknowledged writes lost: (\d+)/.exec(line("bare SENTINEL FAILOVER"))![1]),
    planned: gaps(line("planned stop")),
    maxLag: Number(partition[1]),
    downAfterMs: Number(partition[2]),
    partitionAccepted: Number(partition[3]),
    partitionMs: Number(partition[4]),
    majorityWritableMs: Number(partition[5]),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (xs: number[]) => (xs.length > 1 ? `${median(xs)} ms (${Math.min(...xs)}-${Math.max(...xs)})` : `${xs[0]} ms`);

const samples: Sample[] = [];
for (let run = 1; run <= RUNS; run++) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [resolve(ROOT, "node_modules/jest/bin/jest.js"), "--runInBand", SUITE], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CI: "true" },
    timeout: 15 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) {
    console.error(output.slice(-6000));
    throw new Error(`run ${run}: the suite failed (exit ${r.status})`);
  }
  samples.push(parse(output));
  console.log(`run ${run} of ${RUNS}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  // The figures, and what the step logged during the planned stop.
  for (const line of output.split("\n").filter((l) => /measure: |^\s+planned-failover: /.test(l))) console.log(`  ${line.trim()}`);
}

const column = (pick: (s: Sample) => number[], client: number) => range(samples.map((s) => pick(s)[client]));
const rows = [
  ["longest write gap", "ioredis", "redis-py", "note"],
  ["crash (kill -9 of the master)", column((s) => s.crash, 0), column((s) => s.crash, 1), `down-after-milliseconds ${samples[0].downAfterMs}`],
  ["bare SENTINEL FAILOVER", column((s) => s.bare, 0), column((s) => s.bare, 1), `acknowledged writes lost: ${samples.map((s) => s.bareLost).join(", ")}`],
  ["planned stop (the step, then SIGTERM)", column((s) => s.planned, 0), column((s) => s.planned, 1), "budget: 1-2 s"],
];
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const [i, r] of rows.entries()) {
  console.log(r.map((cell, c) => (c === 0 || c === 3 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
console.log(
  `\npartition window (min-replicas-max-lag ${samples[0].maxLag} s): the cut-off master took writes for ${range(samples.map((s) => s.partitionMs))} ` +
    `(${samples.map((s) => s.partitionAccepted).join(", ")} writes, all lost); the majority side was writable by ${range(samples.map((s) => s.majorityWritableMs))}`,
);
console.log(`median (min-max) of ${RUNS} run(s); a gap runs from the last write before the event to the first after it (informative only)`);
