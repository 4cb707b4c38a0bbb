/** What the VM suites share: the root check, the cluster's set-up and teardown, bounded polling, redis-cli from the host, INFO parsing. */
import { missingTools, TestFn, testNeeding, Tool } from "../../helpers";
import { run } from "../../integration/harness/netns";
import { agentObjectPath, FAKE_AGENT_PACKAGE, FAKE_AGENT_VERSION } from "../../support/fake-ssm-agent";
import { BootedNode, ClusterOptions, VmCluster } from "./cluster";

/** What a VM suite needs on the host. */
export const VM_TOOLS: Tool[] = ["qemu-system-x86_64", "qemu-img", { command: "cloud-localds", args: ["--help"] }, "debootstrap",
  { command: "openssl", args: ["version"] }, "apt-ftparchive", "dpkg-deb", "redis-cli"];

export interface VmSuite {
  /** `test`, or, when a tool is missing, skipped locally and failing in CI (testNeeding). */
  readonly vmTest: TestFn;
  /** Wraps a step: while one that started has not finished (failed, timed out), the teardown keeps the run's logs. */
  tracked(fn: () => Promise<void>): () => Promise<void>;
  /** The cluster; throws when the set-up failed. */
  c(): VmCluster;
}

/**
 * Registers the suite's beforeAll (the cluster of `options` started, then
 * `afterStart`) and afterAll (the timings printed, everything removed, the
 * logs kept when a step did not finish).
 */
export function vmSuite(options: ClusterOptions, setupTimeoutMs: number, afterStart: (cluster: VmCluster) => void = () => undefined): VmSuite {
  const ready = missingTools(VM_TOOLS).length === 0;
  const started = Date.now();
  let cluster: VmCluster | undefined;
  let unfinished = 0;
  const tracked = (fn: () => Promise<void>) => async () => {
    unfinished++;
    await fn();
    unfinished--;
  };
  beforeAll(tracked(async () => {
    if (!ready) return; // testNeeding skips (locally) or fails (CI) every test.
    cluster = new VmCluster(options);
    await cluster.start();
    afterStart(cluster);
  }), setupTimeoutMs);
  afterAll(async () => {
    if (!cluster) return;
    cluster.time("whole suite", `${((Date.now() - started) / 1000).toFixed(0)} s`);
    console.log(`VM boot timings (TCG, 1 vCPU per VM, ${cluster.nodes.length} VMs side by side):\n` +
      cluster.timings.map(([what, value]) => `  ${what}: ${value}`).join("\n"));
    await cluster.destroy(unfinished > 0);
  }, 3 * 60_000);
  return {
    vmTest: testNeeding(VM_TOOLS),
    tracked,
    c: () => {
      if (!cluster) throw new Error("no cluster: the setup failed (see beforeAll)");
      return cluster;
    },
  };
}

/**
 * `describe(name, fn)` when root (bridge, tap devices, QEMU networking need
 * it); otherwise one failing test with CI=true, a skip with a warning locally.
 */
export function describeAsRoot(name: string, fn: () => void): void {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot && process.env.CI === "true") {
    describe(name, () => {
      test("preconditions", () => {
        throw new Error("the VM suite must run in CI but needs root (bridge, tap devices, QEMU networking)");
      });
    });
  } else if (!isRoot) {
    console.warn(`SKIPPED "${name}": needs root (with CI=true this is a failure).`);
    describe.skip(name, () => {
      test("needs root", () => undefined);
    });
  } else {
    describe(name, fn);
  }
}

/**
 * The node scripts' bounds (2 s a command, 5 s for a promotion, ...) are for
 * real machines; emulation runs the guest 20-50 times slower: ten times them,
 * as the environment of a command run in a VM (`env ... command`).
 */
export const EMULATION_BOUNDS = "REDIS_NODE_CLI_TIMEOUT=20 HANDOVER_CATCH_UP_MS=15000 HANDOVER_PROMOTION_MS=50000 HANDOVER_ATTACH_MS=10000 HANDOVER_SWITCH_MS=10000";

/** A guest command that gives redis-server's stop step (the planned failover) those bounds until the next boot: a drop-in in /run. */
export const EMULATION_DROP_IN = "mkdir -p /run/systemd/system/redis-server.service.d && " +
  `printf '[Service]\\nEnvironment=${EMULATION_BOUNDS}\\n' >/run/systemd/system/redis-server.service.d/90-emulation.conf && systemctl daemon-reload`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns a value (not undefined); bounded in time and attempts. */
export async function waitFor<T>(what: string, timeoutMs: number, everyMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let attempt = 0; attempt <= Math.ceil(timeoutMs / everyMs) && Date.now() <= deadline; attempt++) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

/** `field:value` lines of an INFO reply. */
export function infoFields(text: string): Record<string, string> {
  return Object.fromEntries(text.split(/\r?\n/).filter((l) => l.includes(":") && !l.startsWith("#")).map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i), l.slice(i + 1).trim()];
  }));
}

/**
 * redis-cli from the host to a VM over TLS (trusting the group's CA), as
 * `user` with the password the fake handed out (admin unless said), or
 * without logging in when `user` is null.
 */
export async function hostCli(cluster: VmCluster, node: BootedNode, what: "redis" | "sentinel", args: string[], user: string | null = "admin", plaintext = false): Promise<string> {
  const port = what === "redis" ? node.env.REDIS_PORT : node.env.SENTINEL_PORT;
  const login = user === null ? [] : ["--user", user];
  const env: Record<string, string> = { REDISCLI_AUTH: user === null ? "" : cluster.passwords.get(user)! };
  const tls = plaintext ? [] : ["--tls", "--cacert", cluster.ca!.certificate];
  const r = await run(["redis-cli", ...tls, "-h", node.address, "-p", port, ...login, "--no-auth-warning", ...args], { env, timeoutMs: 10_000, allowFailure: true });
  if (r.code !== 0) throw new Error(`redis-cli ${node.name} ${args.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * The ssm-agent boot part on a node of a Debian image (which has no agent):
 * the package came from the region's S3 name over HTTPS, once, was installed
 * by the real apt and dpkg, and runs enabled under systemd; the boot said so.
 */
export async function expectAgentInstalled(cluster: VmCluster, node: BootedNode): Promise<void> {
  const region = cluster.image!.region;
  const fetched = cluster.servers!.s3Requests.filter((r) => r.from === node.address).map((r) => `${r.status} ${r.host}${r.path}`);
  expect({ node: node.name, fetched }).toEqual({ node: node.name, fetched: [`200 s3.${region}.amazonaws.com${agentObjectPath(region)}`] });
  const state = await node.vm.exec(`dpkg-query -W -f '\${Version}' ${FAKE_AGENT_PACKAGE}; echo; systemctl is-enabled amazon-ssm-agent; systemctl is-active amazon-ssm-agent`);
  expect({ node: node.name, state: state.stdout }).toEqual({ node: node.name, state: `${FAKE_AGENT_VERSION}\nenabled\nactive\n` });
  expect(await node.vm.check("grep -c '^redis-node-setup: ssm-agent: installed amazon-ssm-agent ' /var/log/cloud-init-output.log")).toBe("1\n");
}
