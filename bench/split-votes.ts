// `npm run bench:split-votes` (as root, with the packages of
// scripts/install-test-deps.sh): crashes the master of the synthesized example
// BENCH_RUNS times (default 5) for each kind of group, on real redis-server
// and redis-sentinel in network namespaces, and prints per run and in sum
// how many sentinels tried to fail over in the first epoch, whether that vote
// split (`-failover-abort-not-elected`), and the time from the kill to the
// first acknowledged write on the promoted replica. Kinds (BENCH_KINDS, comma
// separated): "colocated" (a sentinel on each data node; redis-server killed),
// "colocated-node" (the same; the master's redis-server and sentinel killed,
// leaving 2 sentinels) and "dedicated" (3 dedicated sentinel nodes). The
// group's failover-timeout is the library's default unless
// BENCH_FAILOVER_TIMEOUT_MS sets it. BENCH_THROTTLE_RUN_MS=10 models sentinels
// on starved CPUs (a burstable instance out of credits, or three sentinels on
// one small box): from the kill until a replica is writable, the bench stops
// every sentinel (SIGSTOP) and lets them run together for that many
// milliseconds in each 100 ms. Figures only: it never fails on timing.
import * as fs from "fs";
import { execFileSync } from "child_process";
import { BUILTIN_USERS } from "../lib/boot";
import { connect, Login, withClient } from "../test/integration/harness/client";
import { sleep } from "../test/integration/harness/netns";
import { kill9, processOf, restart, stopAll, waitUntil } from "../test/integration/harness/processes";
import { GroupLayout, GroupNode, layOutGroup, provideTestSecrets, RunningGroup, startGroup, testPasswords } from "../test/integration/synthesized-group";
import { synthesizeBasicExample } from "../test/integration/synthesized-nodes";

const RUNS = Math.min(Number(process.env.BENCH_RUNS ?? 5), 50);
const KINDS = (process.env.BENCH_KINDS ?? "colocated,colocated-node,dedicated").split(",");
const FAILOVER_TIMEOUT_MS = process.env.BENCH_FAILOVER_TIMEOUT_MS ? Number(process.env.BENCH_FAILOVER_TIMEOUT_MS) : undefined;
const PROBE_INTERVAL_MS = 50;
const THROTTLE_RUN_MS = process.env.BENCH_THROTTLE_RUN_MS ? Math.min(Number(process.env.BENCH_THROTTLE_RUN_MS), 100) : undefined;
const THROTTLE_PERIOD_MS = 100;

/** Stops and continues `pids` together: they run `runMs` of every 100 ms until the returned function is called. */
function throttle(pids: readonly number[], runMs: number): () => void {
  const signal = (sig: NodeJS.Signals) => pids.forEach((pid) => {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone (killed with its node): nothing to throttle.
    }
  });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const cycle = () => {
    if (stopped) return;
    signal("SIGSTOP");
    timer = setTimeout(() => {
      signal("SIGCONT");
      timer = setTimeout(cycle, runMs);
    }, THROTTLE_PERIOD_MS - runMs);
  };
  cycle();
  return () => {
    stopped = true;
    clearTimeout(timer);
    signal("SIGCONT");
  };
}

const PASSWORDS = testPasswords();
const login = (username: string): Login => ({ username, password: PASSWORDS[username] });
const APP = login("app");
const ADMIN = login("admin");
const SENTINEL_CLIENT = login(BUILTIN_USERS.sentinelClient);

interface Run {
  kind: string;
  run: number;
  /** Sentinels that logged +try-failover in the first epoch after the kill. */
  firstTries: number;
  /** Milliseconds between the first and the last of those tries (sentinel log clocks). */
  firstTrySpreadMs: number;
  /** Milliseconds between the first and the last +sdown of the master. */
  sdownSpreadMs: number;
  split: boolean;
  epochs: number;
  writableMs: number;
}

/** Milliseconds of the day of a sentinel log line ("pid:X 27 Nov 2026 00:52:01.123 # ..."). */
function logClock(line: string): number {
  const m = / (\d\d):(\d\d):(\d\d)\.(\d\d\d) /.exec(line);
  if (!m) throw new Error(`no time in sentinel log line: ${line}`);
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
}

const spread = (times: number[]) => (times.length > 0 ? Math.max(...times) - Math.min(...times) : 0);
const uptime = () => execFileSync("uptime", { encoding: "utf8" }).trim();

/** The group being measured, for the teardown when the bench is stopped. */
let current: GroupLayout | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`${signal}: stopping the processes and removing the namespaces`);
    void stopAll()
      .finally(() => current?.topology.destroy())
      .finally(() => process.exit(1));
  });
}

async function benchKind(kind: string): Promise<Run[]> {
  const dedicated = kind === "dedicated";
  const example = synthesizeBasicExample({
    sentinel: { ...(dedicated ? { dedicatedNodeCount: 3 } : {}), ...(FAILOVER_TIMEOUT_MS !== undefined ? { failoverTimeoutMilliseconds: FAILOVER_TIMEOUT_MS } : {}) },
  });
  let layout: GroupLayout | undefined;
  const runs: Run[] = [];
  try {
    layout = current = await layOutGroup(example);
    const group: RunningGroup = await startGroup(layout, provideTestSecrets(PASSWORDS));
    const nodes = layout.nodes;
    const dataNodes = nodes.filter((n) => n.runsRedis);
    const sentinelNodes = nodes.filter((n) => n.runsSentinel);
    const conf = fs.readFileSync(processOf(sentinelNodes[0].name, "sentinel")!.confFile, "utf8");
    const failoverTimeout = Number(new RegExp(`^sentinel failover-timeout ${group.masterName} (\\d+)$`, "m").exec(conf)?.[1] ?? 180000);
    const opts = { connectTimeoutMs: 500, commandTimeoutMs: 1000, tls: group.tls };
    const sentinel = (n: GroupNode, ...args: string[]) => withClient(n.ip, group.sentinelPort, SENTINEL_CLIENT, (c) => c.call("SENTINEL", ...args), opts);
    const healthy = async (): Promise<GroupNode> => {
      const named = await Promise.all(sentinelNodes.map(async (n) => ((await sentinel(n, "get-master-addr-by-name", group.masterName)) as string[])[0]));
      if (new Set(named).size !== 1) throw new Error(`sentinels disagree: ${named.join(", ")}`);
      const master = dataNodes.find((n) => n.ip === named[0])!;
      const repl = await withClient(master.ip, group.redisPort, ADMIN, (c) => c.info("replication"), opts);
      if ((repl.match(/state=online/g) ?? []).length !== dataNodes.length - 1) throw new Error(`master ${master.ip} lacks online replicas`);
      for (const n of sentinelNodes) {
        const flat = (await sentinel(n, "master", group.masterName)) as string[];
        const state = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
        if (state["num-slaves"] !== String(dataNodes.length - 1) || state["num-other-sentinels"] !== String(sentinelNodes.length - 1) || /failover_in_progress|o_down|s_down/.test(state.flags)) {
          throw new Error(`sentinel on ${n.ip}: ${state.flags}, num-slaves ${state["num-slaves"]}, num-other-sentinels ${state["num-other-sentinels"]}`);
        }
      }
      return master;
    };
    const writable = async (n: GroupNode): Promise<boolean> => {
      const c = await connect(n.ip, group.redisPort, APP, opts).catch(() => undefined);
      if (!c) return false;
      try {
        return (await c.set("bench:split-votes", String(Date.now()))) === "OK";
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    };

    console.log(`${kind}: ${dataNodes.length} data nodes, ${sentinelNodes.length} sentinels, down-after ${group.downAfterMs} ms, failover-timeout ${failoverTimeout} ms${THROTTLE_RUN_MS !== undefined ? `; sentinels run ${THROTTLE_RUN_MS} ms of each ${THROTTLE_PERIOD_MS} ms after the kill` : ""}; ${uptime()}`);
    for (let run = 1; run <= RUNS; run++) {
      const master = await waitUntil(healthy, { timeoutMs: 2 * failoverTimeout + 90_000, intervalMs: 250, what: `${kind}: a healthy group before run ${run}` });
      // Sentinel's hello messages every 2 s: let each sentinel's view settle after the last failover.
      await sleep(3000);
      const logs = sentinelNodes.map((n) => ({ node: n, file: processOf(n.name, "sentinel")!.logFile, offset: fs.statSync(processOf(n.name, "sentinel")!.logFile).size }));
      const killNode = kind === "colocated-node";
      const started = Date.now();
      await kill9(master.name, killNode ? undefined : "redis");
      const release =
        THROTTLE_RUN_MS !== undefined
          ? throttle(sentinelNodes.filter((n) => !(killNode && n === master)).map((n) => processOf(n.name, "sentinel")!.pid), THROTTLE_RUN_MS)
          : () => undefined;
      const others = dataNodes.filter((n) => n !== master);
      const deadline = started + 2 * failoverTimeout + 60_000;
      let promoted: GroupNode | undefined;
      try {
        for (let probe = 0; !promoted && probe < Math.ceil((deadline - started) / PROBE_INTERVAL_MS) && Date.now() < deadline; probe++) {
          for (const n of others) if (!promoted && (await writable(n))) promoted = n;
          if (!promoted) await sleep(PROBE_INTERVAL_MS);
        }
      } finally {
        release();
      }
      const writableMs = Date.now() - started;
      if (!promoted) throw new Error(`${kind} run ${run}: no replica became writable within ${deadline - started} ms`);
      await sleep(2000);
      const lines = logs.flatMap((l) => fs.readFileSync(l.file).subarray(l.offset).toString().split("\n").map((text) => ({ node: l.node.name, text })));
      const tries = lines.filter((l) => / \+try-failover /.test(l.text));
      const epochOf = (text: string) => Number(/\+new-epoch (\d+)/.exec(text)?.[1]);
      const epochs = [...new Set(lines.filter((l) => / \+new-epoch /.test(l.text)).map((l) => epochOf(l.text)))].sort((a, b) => a - b);
      // The first epoch's tries: a sentinel's +new-epoch of the first epoch right before its +try-failover.
      const firstTries = logs.map((l) => lines.filter((x) => x.node === l.node.name)).filter((own) => {
        const i = own.findIndex((x) => / \+try-failover /.test(x.text));
        return i > 0 && epochOf(own[i - 1].text) === epochs[0];
      });
      const firstTryTimes = firstTries.map((own) => logClock(own.find((x) => / \+try-failover /.test(x.text))!.text));
      const sdowns = lines.filter((l) => / \+sdown master /.test(l.text)).map((l) => logClock(l.text));
      const r: Run = {
        kind,
        run,
        firstTries: firstTries.length,
        firstTrySpreadMs: spread(firstTryTimes),
        sdownSpreadMs: spread(sdowns),
        split: lines.some((l) => /-failover-abort-not-elected/.test(l.text)),
        epochs: epochs.length,
        writableMs,
      };
      runs.push(r);
      console.log(
        `  run ${run}: ${r.split ? "SPLIT" : "no split"}, ${r.firstTries} sentinel(s) tried in the first epoch (within ${r.firstTrySpreadMs} ms; +sdown within ${r.sdownSpreadMs} ms), ` +
          `${tries.length} tries in ${epochs.length} epoch(s); ${promoted.name} writable ${writableMs} ms after the kill; ${uptime()}`,
      );
      if (r.split) for (const l of lines.filter((x) => /try-failover|not-elected|vote-for-leader|elected-leader|new-epoch|Next failover delay/.test(x.text))) console.log(`    ${l.node}: ${l.text.trim()}`);
      // The killed processes return; Sentinel makes the old master a replica.
      await restart(master.name, "redis");
      if (killNode && master.runsSentinel) await restart(master.name, "sentinel");
    }
  } finally {
    try {
      await stopAll();
    } finally {
      await layout?.topology.destroy();
      if (layout) fs.rmSync(layout.workRoot, { recursive: true, force: true });
      current = undefined;
    }
  }
  return runs;
}

async function main(): Promise<void> {
  const all: Run[] = [];
  for (const kind of KINDS) all.push(...(await benchKind(kind)));
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  console.log(`\nkind            runs  splits  kill -> writable, no split: median (min-max)  with split`);
  for (const kind of KINDS) {
    const runs = all.filter((r) => r.kind === kind);
    const plain = runs.filter((r) => !r.split).map((r) => r.writableMs);
    const split = runs.filter((r) => r.split).map((r) => r.writableMs);
    const show = (xs: number[]) => (xs.length ? `${median(xs)} ms (${Math.min(...xs)}-${Math.max(...xs)})` : "-");
    console.log(`${kind.padEnd(15)} ${String(runs.length).padStart(4)}  ${String(split.length).padStart(6)}  ${show(plain).padEnd(42)}  ${show(split)}`);
  }
  console.log(uptime());
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
