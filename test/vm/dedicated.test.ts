/**
 * Boots examples/basic with three dedicated sentinel nodes on Debian 12 VMs
 * (QEMU, TCG), one VM per node, each from its synthesized user data: three
 * data nodes with redis-server only, three sentinel nodes with
 * redis-sentinel only. Checks what only a real boot shows for this kind of
 * group: the boot parts of each kind of node under cloud-init and systemd,
 * the role decision asking the remote sentinels, and the rolling restart of
 * the master, whose stop hands the role over through the dedicated
 * sentinels as node-handover. Same fakes and image as the other VM suite
 * (see README.md, "Booting real VMs"). Needs root.
 */
import { BootedNode } from "./harness/cluster";
import { describeAsRoot, EMULATION_BOUNDS, EMULATION_DROP_IN, expectAgentInstalled, hostCli, infoFields, vmSuite, waitFor } from "./harness/suite";

const SUITE = "examples/basic with dedicated sentinel nodes, booted on Debian 12 VMs";

// Bounds. TCG (software emulation), 1 vCPU per VM, 6 VMs on 2 host cores.
const IMAGE_TIMEOUT_MS = 15 * 60_000;
const BOOT_TIMEOUT_MS = 20 * 60_000; // QEMU start -> cloud-init finished, all 6 VMs
const TEST_TIMEOUT_MS = 3 * 60_000;
const RESTART_TIMEOUT_MS = 12 * 60_000;
const VM_MEMORY_MB = 1024;
const MASTER_NAME = "main";

describeAsRoot(SUITE, scenarios);

function scenarios(): void {
  const { vmTest, tracked, c } = vmSuite(
    { memoryMb: VM_MEMORY_MB, imageTimeoutMs: IMAGE_TIMEOUT_MS, bootTimeoutMs: BOOT_TIMEOUT_MS, sentinel: { dedicatedNodeCount: 3 } },
    IMAGE_TIMEOUT_MS + BOOT_TIMEOUT_MS + 3 * 60_000,
  );
  const isSentinel = (node: BootedNode) => node.env.SENTINEL_PORT !== undefined && node.env.REDIS_PORT === undefined;
  const dataNodes = () => c().nodes.filter((n) => !isSentinel(n));
  const sentinelNodes = () => c().nodes.filter(isSentinel);
  const cli = (node: BootedNode, what: "redis" | "sentinel", args: string[], user: string | null = "admin") => hostCli(c(), node, what, args, user);
  /** What each sentinel names as master ("ip port"). */
  const named = () => Promise.all(sentinelNodes().map(async (s) =>
    (await cli(s, "sentinel", ["SENTINEL", "get-master-addr-by-name", MASTER_NAME], "sentinel-client")).split("\n").join(" ")));
  const nodeAt = (address: string) => {
    const node = dataNodes().find((n) => n.address === address);
    if (!node) throw new Error(`no data node at ${address}`);
    return node;
  };

  vmTest("cloud-init status is done on all six nodes; the data nodes run redis-server only, the sentinel nodes redis-sentinel only", tracked(async () => {
    expect([dataNodes().length, sentinelNodes().length]).toEqual([3, 3]);
    await Promise.all(c().nodes.map(async (node) => {
      const result = JSON.parse(await node.vm.check("cat /run/cloud-init/result.json"));
      expect({ node: node.name, errors: result.v1.errors }).toEqual({ node: node.name, errors: [] });
      expect(await node.vm.check("grep -c '^redis-node-setup: done$' /var/log/cloud-init-output.log")).toBe("1\n");
      const units = await node.vm.exec("systemctl is-active redis-server redis-sentinel");
      expect({ node: node.name, units: units.stdout }).toEqual({ node: node.name, units: isSentinel(node) ? "inactive\nactive\n" : "active\ninactive\n" });
      // The SSM agent on every kind of node (Debian's image has none).
      await expectAgentInstalled(c(), node);
    }));
    // No password of node-handover on the sentinel nodes (its hash only), and on the data nodes root-only.
    for (const node of sentinelNodes()) expect(await node.vm.exec("test -e /etc/redis-node/node-handover.password")).toMatchObject({ code: 1 });
    for (const node of dataNodes()) expect(await node.vm.check("stat -c '%U %a' /etc/redis-node/node-handover.password")).toBe("root 600\n");
  }), TEST_TIMEOUT_MS);

  vmTest("the sentinels agree on the planned master, which has both replicas; each data node's role decision asked them", tracked(async () => {
    const master = c().node("master");
    expect(await named()).toEqual(sentinelNodes().map(() => `${master.address} ${master.env.REDIS_PORT}`));
    for (const s of sentinelNodes()) expect(await cli(s, "sentinel", ["SENTINEL", "CKQUORUM", MASTER_NAME])).toMatch(/^OK 3 usable Sentinels/);
    await waitFor("the master with 2 connected replicas", 120_000, 2000, async () =>
      infoFields(await cli(master, "redis", ["INFO", "replication"])).connected_slaves === "2" ? true : undefined);
    for (const node of dataNodes()) {
      const decision = await node.vm.check("cat /var/lib/redis-node/role-decision");
      expect({ node: node.name, decision }).toEqual({ node: node.name, decision: expect.stringMatching(node === master ? / master: / : new RegExp(` replica of ${master.address.replace(/\./g, "\\.")}:`)) });
    }
  }), TEST_TIMEOUT_MS);

  vmTest("redis-node-restart on the master under systemd: the stop hands the role over through the last sentinel as node-handover, " +
    "and the node comes back as a replica in sync; no acknowledged write lost", tracked(async () => {
    const master = c().node("master");
    const leader = master.env.ROLE_SENTINELS.split(" ").at(-1)!;
    const key = `vm-dedicated-${Date.now()}`;
    expect(await cli(master, "redis", ["SET", key, "acknowledged"])).toBe("OK");
    expect(await cli(master, "redis", ["WAIT", "2", "5000"])).toBe("2");
    // The step's bounds (2 s a command, 5 s for the promotion) are for real machines: ten times them under emulation,
    // for the stop step (a drop-in) and the command.
    await master.vm.check(EMULATION_DROP_IN, 120_000);
    await waitFor("redis-node-restart --check to say yes on the master", 180_000, 10_000, async () =>
      (await master.vm.exec(`env ${EMULATION_BOUNDS} redis-node-restart --check`, 120_000)).stdout.includes("may restart now: yes") ? true : undefined);
    const restart = await master.vm.exec(`env ${EMULATION_BOUNDS} redis-node-restart`, RESTART_TIMEOUT_MS - 4 * 60_000);
    const out = restart.stdout + restart.stderr;
    const stepLog = await master.vm.check("journalctl -t redis-planned-failover --no-pager -o cat");
    c().time("master: redis-node-restart", `${/done in (\d+s)/.exec(out)?.[1] ?? "not done"}, writes paused ${/writes paused (\d+) ms/.exec(stepLog)?.[1] ?? "?"} ms at the hand-over (emulated)`);
    expect({ code: restart.code, out }).toEqual({ code: 0, out: expect.stringMatching(/done in \d+s: this node is a replica of \S+/) });
    expect(stepLog).toContain(`handing the role over through the sentinel at ${leader}:${master.env.ROLE_SENTINEL_PORT} (as node-handover) before redis-server stops`);
    // The replicas' ROLE, asked as replication, showed the whole stream; the other sentinels named the new master.
    expect(stepLog).toMatch(/every promotable replica holds offset \d+[^]*every sentinel but the leader named it: yes[^]*hand-over done in \d+ ms/);
    const promoted = /the sentinel names (\S+):\d+ as master/.exec(stepLog)![1];
    const newMaster = nodeAt(promoted);
    expect(newMaster).not.toBe(master);
    expect(await named()).toEqual(sentinelNodes().map(() => `${promoted} ${newMaster.env.REDIS_PORT}`));
    // The role decision (ExecStartPre) started it as a replica of the new master, which now has both replicas.
    expect(await master.vm.check("cat /var/lib/redis-node/role-decision")).toMatch(new RegExp(` replica of ${promoted.replace(/\./g, "\\.")}:`));
    expect(infoFields(await cli(master, "redis", ["INFO", "replication"]))).toMatchObject({ role: "slave", master_host: promoted, master_link_status: "up" });
    await waitFor("the new master with 2 connected replicas", 60_000, 2000, async () =>
      infoFields(await cli(newMaster, "redis", ["INFO", "replication"])).connected_slaves === "2" ? true : undefined);
    for (const node of dataNodes()) expect({ node: node.name, value: await cli(node, "redis", ["GET", key]) }).toEqual({ node: node.name, value: "acknowledged" });
  }), RESTART_TIMEOUT_MS);
}
