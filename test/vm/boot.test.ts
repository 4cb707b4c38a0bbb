/**
 * Boots each node of examples/basic (master, replica-1, replica-2, each with
 * redis-server and a sentinel) on its own Debian 12 VM (QEMU, TCG) from its
 * synthesized user data, and checks what only a real boot shows: cloud-init,
 * the unmodified boot script, systemd, the guest kernel's settings, a
 * reboot. Instance metadata and SSM are fakes on the bridge host (SigV4
 * checked); Redis comes from the image build's apt repository, installed at
 * boot by cloud-init. See README.md, "Booting real VMs". Needs root.
 */
import { createHash } from "crypto";
import * as path from "path";
import { libraryPathOnNode, REDIS_OPEN_FILES_DROP_IN, REDIS_RESTART_DROP_IN, SYSCTL_FILE } from "../../lib/boot";
import { BootedNode } from "./harness/cluster";
import { METADATA_PROBE_PORT } from "./harness/servers";
import { buildOldRedisRepo, OLD_REDIS_VERSION } from "./harness/old-redis-repo";
import { cloudConfigFiles } from "./harness/user-data";
import { describeAsRoot, EMULATION_BOUNDS, EMULATION_DROP_IN, expectAgentInstalled, hostCli, infoFields, vmSuite, waitFor } from "./harness/suite";

const SUITE = "examples/basic booted on Debian 12 VMs";

// Bounds. TCG (software emulation), 1 vCPU per VM, 3 VMs on 2 host cores.
const IMAGE_TIMEOUT_MS = 15 * 60_000; // cold cache: ~1.5 min measured
const BOOT_TIMEOUT_MS = 12 * 60_000; // QEMU start -> cloud-init finished, all 3 VMs
const SETUP_TIMEOUT_MS = IMAGE_TIMEOUT_MS + BOOT_TIMEOUT_MS + 3 * 60_000;
const TEST_TIMEOUT_MS = 3 * 60_000;
const REBOOT_TIMEOUT_MS = 8 * 60_000;
// The two VMs whose boot must fail, each booted beside the nodes' scenarios.
const FAILING_BOOT_TIMEOUT_MS = 15 * 60_000;
type FailingBoot = "secrets-denied" | "redis-6";
// This node boots from the example with its data on the instance store (its disk: an NVMe serial AWS...); the others on EBS.
const INSTANCE_STORE_NODE = "replica-2";
const VM_MEMORY_MB = 1024;

describeAsRoot(SUITE, scenarios);

function scenarios(): void {
  // The VMs whose boot must fail boot beside the scenarios on the three
  // nodes, which keep at most one core busy, not after them: one once the
  // nodes are up (its checks and its reboot follow in the background), the
  // other beside the replacement's boot. Two cores: never more than two VMs
  // booting at once.
  const { vmTest, tracked, c } = vmSuite(
    { memoryMb: VM_MEMORY_MB, imageTimeoutMs: IMAGE_TIMEOUT_MS, bootTimeoutMs: BOOT_TIMEOUT_MS, extraSlots: 2, instanceStoreNodes: [INSTANCE_STORE_NODE] },
    SETUP_TIMEOUT_MS,
    () => void secretsDeniedChecked().catch(() => undefined),
  );
  const nodes = () => c().nodes;
  const port = (node: BootedNode, what: "redis" | "sentinel") => Number(what === "redis" ? node.env.REDIS_PORT : node.env.SENTINEL_PORT);
  /**
   * A file the boot rendered from its template: the placeholders filled with
   * what the fake handed out, and node-ops' with the password the node made.
   */
  const filled = (text: string, nodeOpsPassword: string) =>
    text.replace(/@@(PASSWORD|SHA256):([A-Za-z0-9_-]+)@@/g, (_, form: string, user: string) => {
      const password = user === "node-ops" ? nodeOpsPassword : c().passwords.get(user)!;
      return form === "PASSWORD" ? password : createHash("sha256").update(password).digest("hex");
    });

  /** redis-cli from the host to a VM (see hostCli). */
  const cli = (node: BootedNode, what: "redis" | "sentinel", args: string[], user: string | null = "admin", plaintext = false) =>
    hostCli(c(), node, what, args, user, plaintext);

  /** The user data's template of a file, as the VM received it. */
  const template = (node: BootedNode, file: string) => {
    const text = cloudConfigFiles(node.userData)[file];
    if (text === undefined) throw new Error(`${node.name}'s user data writes no ${file}`);
    return text;
  };

  /** The boot library's parameters a node's node.env names, in order. */
  const libraryOf = (node: BootedNode) => node.env.BOOT_LIBRARY_PARAMETERS.split(" ");
  /** The names the fake AWS served to a node, in order. */
  const servedTo = (node: BootedNode) => {
    const aws = c().servers!.aws.state;
    return aws.servedNames.filter((_, i) => aws.servedTo[i] === node.address);
  };

  /** The master the sentinels were configured to monitor: [name, address, port]. */
  const monitored = (node: BootedNode) => {
    const m = /^sentinel monitor (\S+) (\S+) (\d+) \d+$/m.exec(template(node, "/etc/redis-node/sentinel.conf.template"));
    if (!m) throw new Error(`${node.name}: no "sentinel monitor" line in its sentinel.conf template`);
    return { name: m[1], address: m[2], port: m[3] };
  };

  vmTest("cloud-init status is done, not error, on every node; Redis came from apt at boot, the SSM agent from the region's S3", tracked(async () => {
    await Promise.all(nodes().map(async (node) => {
      // A Python start: tens of seconds under emulation while another VM boots beside.
      const status = await node.vm.check("cloud-init status --long", 120_000);
      expect({ node: node.name, status: /^status:\s*(\S+)/m.exec(status)?.[1] }).toEqual({ node: node.name, status: "done" });
      const result = JSON.parse(await node.vm.check("cat /run/cloud-init/result.json"));
      expect({ node: node.name, errors: result.v1.errors }).toEqual({ node: node.name, errors: [] });
      expect(await node.vm.check("grep -c '^redis-node-setup: done$' /var/log/cloud-init-output.log")).toBe("1\n");
      // Masked before apt installed them: each process started once, by the setup, never with the stock settings.
      expect(await node.vm.check("grep -c 'Redis is starting' /var/log/redis/redis-server.log /var/log/redis/redis-sentinel.log"))
        .toBe("/var/log/redis/redis-server.log:1\n/var/log/redis/redis-sentinel.log:1\n");
      // cloud-init's `packages:` fetched them from the bridge (the image has no Redis).
      const fetched = c().servers!.aptRequests.filter((r) => r.from === node.address && r.status === 200).map((r) => r.path);
      for (const pkg of ["redis-server", "redis-sentinel", "redis-tools"]) {
        expect({ node: node.name, pkg, fetched: fetched.some((p) => p.startsWith(`/${pkg}_`)) }).toEqual({ node: node.name, pkg, fetched: true });
      }
      await expectAgentInstalled(c(), node);
    }));
    // Each node fetched exactly its secrets (secrets.list), TLS files and the boot library, once each, with valid signatures, from its own address.
    const aws = c().servers!.aws.state;
    expect(aws.rejected).toEqual([]);
    for (const node of nodes()) {
      const listed = template(node, "/etc/redis-node/secrets.list").trim().split("\n").map((line) => line.split(" ").slice(3).join(" "));
      const wanted = [...listed, node.env.TLS_KEY_ID, node.env.TLS_CERT_ID, node.env.TLS_CA_ID, ...libraryOf(node)].sort();
      const served = servedTo(node).sort();
      expect({ node: node.name, served }).toEqual({ node: node.name, served: wanted });
    }
  }), TEST_TIMEOUT_MS);

  vmTest("redis-server and redis-sentinel run under systemd with the rendered configs, private, without the secrets", tracked(async () => {
    await Promise.all(nodes().map(async (node) => {
      expect(await node.vm.check("systemctl is-active redis-server redis-sentinel")).toBe("active\nactive\n");
      expect(await node.vm.check("systemctl is-enabled redis-server redis-sentinel")).toBe("enabled\nenabled\n");
      expect(await node.vm.check("stat -c '%n %U:%G %a' /etc/redis/redis.conf /etc/redis/users.acl /etc/redis/sentinel.conf /etc/redis/tls/node.key"))
        .toBe("/etc/redis/redis.conf redis:redis 640\n/etc/redis/users.acl redis:redis 640\n/etc/redis/sentinel.conf redis:redis 640\n/etc/redis/tls/node.key redis:redis 600\n");
      expect(await node.vm.check("grep -cE '@@(PASSWORD|SHA256):' /etc/redis/redis.conf /etc/redis/users.acl /etc/redis/sentinel.conf || true"))
        .toBe("/etc/redis/redis.conf:0\n/etc/redis/users.acl:0\n/etc/redis/sentinel.conf:0\n");
      // The fetched secrets are gone; the settings stay, and the node-ops password the node made for itself (root only).
      expect(await node.vm.check("LC_ALL=C ls -A /run/redis-node/; LC_ALL=C ls /etc/redis-node/")).toBe("node-ops.password\nnode.env\nsecrets.list\n");
      expect(await node.vm.check("stat -c '%U:%G %a' /etc/redis-node/node-ops.password")).toBe("root:root 600\n");
      const nodeOps = await node.vm.check("cat /etc/redis-node/node-ops.password");
      expect(nodeOps).toMatch(/^[0-9a-f]{64}$/);
      // redis.conf and the ACL file are the user data's templates with the secrets filled in (Redis has not rewritten them).
      expect((await node.vm.check("cat /etc/redis/redis.conf")).trimEnd()).toBe(filled(template(node, "/etc/redis-node/redis.conf.template"), nodeOps).trimEnd());
      expect((await node.vm.check("cat /etc/redis/users.acl")).trimEnd()).toBe(filled(template(node, "/etc/redis-node/users.acl.template"), nodeOps).trimEnd());
      // The ACL file holds hashes: no password of any user is on the node's disk there.
      const acl = await node.vm.check("cat /etc/redis/users.acl");
      expect([...c().passwords.values()].filter((p) => acl.includes(p))).toEqual([]);
      // The processes answering on the node's address are the systemd units' main processes, on those files.
      for (const [unit, what, file] of [["redis-server", "redis", "/etc/redis/redis.conf"], ["redis-sentinel", "sentinel", "/etc/redis/sentinel.conf"]] as const) {
        const info = infoFields(await cli(node, what, ["INFO", "server"]));
        const mainPid = (await node.vm.check(`systemctl show -p MainPID --value ${unit}`)).trim();
        expect({ node: node.name, unit, pid: info.process_id, config: info.config_file, major: info.redis_version?.split(".")[0] })
          .toEqual({ node: node.name, unit, pid: mainPid, config: file, major: "7" });
      }
      // The hardening drop-in holds for both units: private rewrites, no instance metadata for Redis.
      for (const unit of ["redis-server", "redis-sentinel"]) {
        const props = Object.fromEntries((await node.vm.check(`systemctl show -p UMask -p IPAddressDeny ${unit}`)).trim().split("\n").map((l) => l.split("=")));
        expect({ unit, umask: props.UMask, deny: props.IPAddressDeny.split(" ").sort() })
          .toEqual({ unit, umask: "0027", deny: ["169.254.169.254/32", "fd00:ec2::254/128"] });
      }
      // Tuned to the instance: the open-files drop-in is loaded, the process has its limit and Redis the maxclients it
      // was given (it lowers maxclients itself when the limit is too low); threaded I/O off with TLS.
      const limit = /^LimitNOFILE=(\d+)$/m.exec(template(node, REDIS_OPEN_FILES_DROP_IN))?.[1];
      expect((await node.vm.check("systemctl show -p LimitNOFILE --value redis-server")).trim()).toBe(limit);
      expect(await node.vm.check("grep '^Max open files' /proc/$(systemctl show -p MainPID --value redis-server)/limits | awk '{print $4}'")).toBe(`${limit}\n`);
      const maxClients = /^maxclients (\d+)$/m.exec(template(node, "/etc/redis-node/redis.conf.template"))?.[1];
      expect(await cli(node, "redis", ["CONFIG", "GET", "maxclients"])).toBe(`maxclients\n${maxClients}`);
      expect(await cli(node, "redis", ["CONFIG", "GET", "io-threads"])).toBe("io-threads\n1");
      // The default user is off, the application user works, and there is no plaintext port.
      expect(await cli(node, "redis", ["PING"], null)).toMatch(/NOAUTH/);
      expect(await cli(node, "redis", ["PING"], "app")).toBe("PONG");
      expect(await cli(node, "redis", ["CONFIG", "GET", "masterauth"], "app")).toMatch(/NOPERM/);
      await expect(cli(node, "redis", ["PING"], "app", true)).rejects.toThrow();
    }));
  }), TEST_TIMEOUT_MS);

  /** The data volume's mount on a data node: source (the NVMe disk of the volume's serial), type, fstab line's UUID. */
  async function dataVolumeMount(node: BootedNode): Promise<{ source: string; fstype: string; uuid: string; byId: string }> {
    const serial = node.env.DATA_VOLUME_ID.replace("-", "");
    const [source, fstype] = (await node.vm.check("findmnt -no SOURCE,FSTYPE /var/lib/redis")).trim().split(/\s+/);
    const byId = (await node.vm.check(`readlink -f /dev/disk/by-id/nvme-*_${serial}`)).trim();
    const fstab = (await node.vm.check("grep ' /var/lib/redis ' /etc/fstab")).trim();
    const m = /^UUID=(\S+) \/var\/lib\/redis xfs (\S+) 0 0$/.exec(fstab);
    if (!m) throw new Error(`${node.name}: unexpected fstab line for /var/lib/redis: ${fstab}`);
    expect({ node: node.name, options: m[2].split(",") }).toEqual({ node: node.name, options: expect.arrayContaining(["nofail"]) });
    return { source, fstype, uuid: m[1], byId };
  }

  const onEbs = (node: BootedNode) => node.env.DATA_VOLUME_ID !== undefined;

  vmTest("each data node on EBS keeps its data on its own volume: the NVMe disk of the volume id, XFS, mounted by UUID, required by redis-server", tracked(async () => {
    expect(nodes().filter(onEbs).map((n) => n.name)).toEqual(nodes().map((n) => n.name).filter((n) => n !== INSTANCE_STORE_NODE));
    await Promise.all(nodes().filter(onEbs).map(async (node) => {
      expect(node.env.DATA_VOLUME_ID).toMatch(/^vol-[0-9a-f]{17}$/);
      const mount = await dataVolumeMount(node);
      expect({ node: node.name, source: mount.source, fstype: mount.fstype }).toEqual({ node: node.name, source: mount.byId, fstype: "xfs" });
      expect(mount.source).toMatch(/^\/dev\/nvme\d+n1$/);
      expect((await node.vm.check(`blkid -s UUID -o value ${mount.source}`)).trim()).toBe(mount.uuid);
      expect(await node.vm.check("stat -c '%U:%G %a' /var/lib/redis")).toBe("redis:redis 750\n");
      expect((await node.vm.check("systemctl show -p RequiresMountsFor --value redis-server")).split(/\s+/)).toContain("/var/lib/redis");
      // Redis writes its snapshot there, on the volume.
      expect(await cli(node, "redis", ["CONFIG", "GET", "dir"])).toBe("dir\n/var/lib/redis");
      expect(await cli(node, "redis", ["SAVE"])).toBe("OK");
      expect((await node.vm.check("df --output=source /var/lib/redis/dump.rdb | tail -1")).trim()).toBe(mount.source);
    }));
  }), TEST_TIMEOUT_MS);

  /** The instance-store disk (the NVMe disk of an AWS... serial) and what is mounted at the data directory. */
  async function instanceStoreMount(node: BootedNode): Promise<{ disk: string; source: string; fstype: string }> {
    const links = (await node.vm.check("ls /dev/disk/by-id/")).split("\n").filter((l) => /^nvme-.+_AWS[0-9A-Z]+$/.test(l));
    expect({ node: node.name, links: links.length }).toEqual({ node: node.name, links: 1 });
    const disk = (await node.vm.check(`readlink -f /dev/disk/by-id/${links[0]}`)).trim();
    const [source, fstype] = (await node.vm.check("findmnt -no SOURCE,FSTYPE /var/lib/redis")).trim().split(/\s+/);
    return { disk, source, fstype };
  }

  vmTest(`the node on the instance store (${INSTANCE_STORE_NODE}): its NVMe disk of an AWS serial, XFS, mounted with no fstab line by a unit that redis-server requires`, tracked(async () => {
    const node = c().node(INSTANCE_STORE_NODE);
    expect(node.env.DATA_INSTANCE_STORE).toBe("1");
    const mount = await instanceStoreMount(node);
    expect(mount).toEqual({ disk: expect.stringMatching(/^\/dev\/nvme\d+n1$/), source: mount.disk, fstype: "xfs" });
    expect(await node.vm.check("cat /var/log/cloud-init-output.log")).toContain(`${mount.disk} (instance store) is blank: formatting it (XFS)`);
    expect(await node.vm.check("grep -c ' /var/lib/redis ' /etc/fstab || true")).toBe("0\n");
    const requires = (await node.vm.check("systemctl show -p Requires -p After --value redis-server")).split(/\s+/);
    expect(requires).toEqual(expect.arrayContaining(["redis-data-volume.service"]));
    expect(await node.vm.check("systemctl show -p ActiveState -p SubState --value redis-data-volume")).toBe("active\nexited\n");
    expect(await node.vm.check("stat -c '%U:%G %a' /var/lib/redis")).toBe("redis:redis 750\n");
    expect(await cli(node, "redis", ["SAVE"])).toBe("OK");
    expect((await node.vm.check("df --output=source /var/lib/redis/dump.rdb | tail -1")).trim()).toBe(mount.disk);
  }), TEST_TIMEOUT_MS);

  vmTest("replication works across the VMs: 2 replicas on the master, a write reaches both, the sentinels name the master", tracked(async () => {
    const master = c().node("master");
    const replicas = nodes().filter((n) => n !== master);
    const info = await waitFor("master with 2 connected replicas", 120_000, 2000, async () => {
      const fields = infoFields(await cli(master, "redis", ["INFO", "replication"]));
      return fields.role === "master" && fields.connected_slaves === "2" ? fields : undefined;
    });
    c().time("replication up (2 replicas), seen after QEMU start", `<= ${((Date.now() - master.vm.startedAt) / 1000).toFixed(0)} s`);
    // The replicas announce their own (ENI) addresses.
    expect([info.slave0, info.slave1].map((s) => /ip=([^,]+)/.exec(s)?.[1]).sort()).toEqual(replicas.map((r) => r.address).sort());
    const key = `vm-boot-${Date.now()}`;
    expect(await cli(master, "redis", ["SET", key, "written-on-the-master"])).toBe("OK");
    expect(await cli(master, "redis", ["WAIT", "2", "5000"])).toBe("2");
    for (const replica of replicas) {
      expect(infoFields(await cli(replica, "redis", ["INFO", "replication"]))).toMatchObject({ role: "slave", master_host: master.address, master_link_status: "up" });
      expect(await cli(replica, "redis", ["GET", key])).toBe("written-on-the-master");
    }
    for (const node of nodes()) {
      const { name } = monitored(node);
      expect(name).toBe("main");
      expect((await cli(node, "sentinel", ["SENTINEL", "get-master-addr-by-name", name], "sentinel-client")).split("\n")).toEqual([master.address, master.env.REDIS_PORT]);
      expect(await cli(node, "sentinel", ["SENTINEL", "REMOVE", name], "sentinel-client")).toMatch(/NOPERM/);
      // The sentinels found each other over the network: a failover could be authorized.
      await waitFor(`${node.name}: SENTINEL ckquorum`, 60_000, 2000, async () => {
        const answer = await cli(node, "sentinel", ["SENTINEL", "ckquorum", name]);
        return /^OK 3 usable Sentinels/.test(answer) ? answer : undefined;
      });
    }
  }), TEST_TIMEOUT_MS);

  /** The kernel's values of the user data's sysctl file, THP, from the guest. */
  async function expectKernelTuning(node: BootedNode): Promise<void> {
    const wanted = template(node, SYSCTL_FILE).split("\n").map((l) => /^\s*([a-z0-9_.]+)\s*=\s*(\S+)\s*$/.exec(l)).filter((m): m is RegExpExecArray => !!m);
    expect(wanted.map((m) => m[1])).toEqual(expect.arrayContaining(["vm.overcommit_memory", "net.core.somaxconn"]));
    const procPaths = wanted.map((m) => `/proc/sys/${m[1].replace(/\./g, "/")}`);
    const actual = (await node.vm.check(`cat ${procPaths.join(" ")}`)).trim().split("\n");
    expect({ node: node.name, kernel: Object.fromEntries(wanted.map((m, i) => [m[1], actual[i]])) })
      .toEqual({ node: node.name, kernel: Object.fromEntries(wanted.map((m) => [m[1], m[2]])) });
    expect(actual[wanted.findIndex((m) => m[1] === "vm.overcommit_memory")]).toBe("1");
    expect(Number(actual[wanted.findIndex((m) => m[1] === "net.core.somaxconn")])).toBeGreaterThanOrEqual(2048);
    const thp = await node.vm.check("cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag");
    expect({ node: node.name, thp: thp.split("\n").slice(0, 2).map((l) => /\[(\w+)\]/.exec(l)?.[1]) }).toEqual({ node: node.name, thp: ["never", "never"] });
  }

  vmTest("the guest kernels run with overcommit 1, somaxconn >= 2048 and THP never", tracked(async () => {
    await Promise.all(nodes().map((node) => expectKernelTuning(node)));
  }), TEST_TIMEOUT_MS);

  vmTest(`the instance store blank again, as after a stop and start (${INSTANCE_STORE_NODE}): redis-server's start formats and mounts it first, ` +
    "and the node comes back a replica with the master's data (a full resync)", tracked(async () => {
    const node = c().node(INSTANCE_STORE_NODE);
    const master = c().node("master");
    const fullSyncs = async () => Number(infoFields(await cli(master, "redis", ["INFO", "stats"])).sync_full);
    const key = `vm-instance-store-${Date.now()}`;
    expect(await cli(master, "redis", ["SET", key, "acknowledged"])).toBe("OK");
    expect(await cli(master, "redis", ["WAIT", "2", "5000"])).toBe("2");
    const before = await fullSyncs();
    const { disk } = await instanceStoreMount(node);
    // What a stop and start leaves: the services down, the disk blank (the unit's mount gone with the host). The
    // sentinel too: its working directory is the data directory, which it would keep busy.
    await node.vm.check("systemctl stop redis-server redis-sentinel redis-data-volume && umount /var/lib/redis && " +
      `wipefs -a ${disk} >/dev/null`);
    expect((await node.vm.exec(`blkid -p ${disk}`)).code).toBe(2);
    const started = await node.vm.exec("systemctl start redis-server redis-sentinel", 120_000);
    expect({ code: started.code, stderr: started.stderr }).toEqual({ code: 0, stderr: "" });
    // The sentinel started after the mount (the unit is ordered before it): its working directory is on the disk.
    expect(await node.vm.check("stat -L -c %d /proc/$(systemctl show -p MainPID --value redis-sentinel)/cwd /var/lib/redis | uniq | wc -l"))
      .toBe("1\n");
    expect(await node.vm.check("journalctl -u redis-data-volume -b --no-pager -o cat")).toContain(`${disk} (instance store) is blank: formatting it (XFS)`);
    expect(await instanceStoreMount(node)).toEqual({ disk, source: disk, fstype: "xfs" });
    await waitFor(`${node.name} in sync with the master`, 120_000, 2000, async () => {
      const fields = infoFields(await cli(node, "redis", ["INFO", "replication"]));
      return fields.role === "slave" && fields.master_host === master.address && fields.master_link_status === "up" ? true : undefined;
    });
    expect(await cli(node, "redis", ["GET", key])).toBe("acknowledged");
    expect((await fullSyncs()) - before).toBe(1);
    expect(await node.vm.check("cat /var/lib/redis-node/role-decision")).toMatch(
      new RegExp(`^\\S+ replica of ${master.address.replace(/\./g, "\\.")}:${master.env.REDIS_PORT}: the sentinels name `));
  }), TEST_TIMEOUT_MS);

  /** The address and port the sentinel on `node` names as the group's master. */
  const namedMaster = async (node: BootedNode) =>
    (await cli(node, "sentinel", ["SENTINEL", "get-master-addr-by-name", monitored(node).name], "sentinel-client")).split("\n");
  /**
   * The node most sentinels name as master now (the reboot of the master moves the role; a replaced node's
   * sentinel starts from its first-boot config and learns the current one from the others).
   */
  const currentMaster = async () => {
    const named = await Promise.all(nodes().map(async (n) => (await namedMaster(n))[0]));
    const address = named.find((a) => named.filter((b) => b === a).length * 2 > named.length);
    const node = nodes().find((n) => n.address === address);
    if (!node) throw new Error(`no node is named master by most sentinels: ${named.join(", ")}`);
    return node;
  };

  vmTest("a reboot of the master: it hands the role over before redis-server stops, comes back as a replica (the role decision " +
    "under systemd), same kernel settings and volume, configs not rendered again", tracked(async () => {
    const node = c().node("master");
    const replicas = nodes().filter((n) => n !== node);
    const witness = c().node("replica-2");
    expect(await namedMaster(witness)).toEqual([node.address, node.env.REDIS_PORT]);
    const sentinelState = "grep '^sentinel myid ' /etc/redis/sentinel.conf; stat -c '%Y' /var/lib/redis-node/setup-done";
    const before = await node.vm.check(sentinelState);
    expect(before).toMatch(/^sentinel myid [0-9a-f]{40}\n\d+\n$/);
    const mountBefore = await dataVolumeMount(node);
    const key = `vm-before-reboot-${Date.now()}`;
    expect(await cli(node, "redis", ["SET", key, "acknowledged"])).toBe("OK");
    expect(await cli(node, "redis", ["WAIT", "2", "5000"])).toBe("2");
    const eventsBefore = c().servers!.aws.state.events.length;
    // Emulation runs the guest 20-50 times slower than an EC2 instance, and a reboot stops every unit at once: the
    // step's bounds (2 s a command, 5 s for the promotion) are for real machines. Ten times them, for this stop only
    // (/run is gone after the reboot).
    await node.vm.check(EMULATION_DROP_IN, 120_000);

    const seconds = await node.vm.reboot(REBOOT_TIMEOUT_MS);
    c().time("master: reboot -> guest agent answers", `${seconds.toFixed(0)} s`);
    const afterBoot = Date.now();
    // The stop ran the planned-failover step (ExecStop, as root), which handed the role over: the sentinels
    // named a replica with no failure detection (no +odown), and the step said so in the previous boot's journal.
    const stopLog = await node.vm.check("journalctl -b -1 -t redis-planned-failover --no-pager -o cat");
    expect(stopLog).toContain("this node is the master: handing the role over before redis-server stops");
    const named = /the sentinel names (\S+):(\d+) as master \d+ ms after the pause/.exec(stopLog);
    expect(named?.[1]).toBeDefined();
    expect(replicas.map((r) => r.address)).toContain(named![1]);
    expect(stopLog).toMatch(/closed the clients' connections .* hand-over done in \d+ ms/);
    const [promoted, newMasterPort] = [named![1], named![2]];
    const events = c().servers!.aws.state.events.slice(eventsBefore).map((e) => JSON.parse(e.Detail) as Record<string, unknown>);
    expect(events.filter((e) => e.event === "+odown")).toEqual([]);
    await waitFor("redis-server and redis-sentinel active after the reboot", 180_000, 2000, async () => {
      const r = await node.vm.exec("systemctl is-active redis-server redis-sentinel");
      return r.stdout === "active\nactive\n" ? true : undefined;
    });
    const status = await node.vm.waitForCloudInit(180_000, afterBoot);
    expect(status.status).toBe("done");
    // The role decision (redis-server's ExecStartPre) asked the sentinels and started it as a replica of the new master.
    expect(await node.vm.check("cat /var/lib/redis-node/role-decision")).toMatch(new RegExp(`^\\S+ replica of ${promoted.replace(/\./g, "\\.")}:${newMasterPort}: the sentinels name `));
    await waitFor("the old master in sync with the new one", 120_000, 2000, async () => {
      const fields = infoFields(await cli(node, "redis", ["INFO", "replication"]));
      return fields.role === "slave" && fields.master_host === promoted && fields.master_link_status === "up" ? true : undefined;
    });
    const newMaster = nodes().find((n) => n.address === promoted)!;
    await waitFor("the new master with 2 connected replicas", 60_000, 2000, async () =>
      infoFields(await cli(newMaster, "redis", ["INFO", "replication"])).connected_slaves === "2" ? true : undefined);
    c().time("master: reboot -> back in sync as a replica", `${((Date.now() - afterBoot) / 1000 + seconds).toFixed(0)} s`);
    expect(await cli(node, "redis", ["GET", key])).toBe("acknowledged");
    for (const n of nodes()) expect(await namedMaster(n)).toEqual([promoted, newMaster.env.REDIS_PORT]);
    // The writer name followed the hand-over too.
    const { DNS_ZONE_ID: zoneId, DNS_WRITER_NAME: writerName } = node.env;
    await waitFor("the writer name at the new master", 120_000, 1000, async () =>
      (c().servers!.aws.state.zones.get(zoneId)?.get(writerName)?.values ?? []).join() === promoted ? true : undefined);

    await expectKernelTuning(node);
    // The volume is mounted again by its fstab line, not formatted again.
    expect(await dataVolumeMount(node)).toEqual(mountBefore);
    // Not rendered again: Sentinel kept its identity, the setup did not run again, and redis.conf is the file
    // Redis rewrote (the master's template has no replicaof; a render would have put that back).
    expect(await node.vm.check(sentinelState)).toBe(before);
    expect(await node.vm.check("grep -c '^redis-node-setup: done$' /var/log/cloud-init-output.log")).toBe("1\n");
    expect(template(node, "/etc/redis-node/redis.conf.template")).not.toMatch(/^replicaof /m);
    expect(await node.vm.check("grep '^replicaof ' /etc/redis/redis.conf")).toBe(`replicaof ${promoted} ${newMaster.env.REDIS_PORT}\n`);
  }), REBOOT_TIMEOUT_MS + 6 * 60_000);

  vmTest("the setup run a second time on a replica renders nothing: redis.conf and Sentinel's identity stay", tracked(async () => {
    // cloud-init runs the setup once per instance; the script's own guard is what
    // protects Sentinel's and Redis' rewrites when it runs again anyway.
    const master = await currentMaster();
    const node = c().node("replica-1") === master ? c().node("replica-2") : c().node("replica-1");
    const confState = "sha256sum /etc/redis/redis.conf | cut -d' ' -f1; grep '^sentinel myid ' /etc/redis/sentinel.conf; stat -c '%U:%G %a' /etc/redis/redis.conf /etc/redis/sentinel.conf";
    const before = await node.vm.check(confState);
    const r = await node.vm.exec("/usr/local/sbin/redis-node-boot", 240_000);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("keeping /etc/redis/redis.conf: setup already ran on this node") });
    expect(r.stderr).toContain("keeping /etc/redis/sentinel.conf: setup already ran on this node");
    expect(await node.vm.check(confState)).toBe(before);
    expect(await node.vm.check("systemctl is-active redis-server redis-sentinel; ls -A /run/redis-node/")).toBe("active\nactive\n");
    await waitFor(`${node.name} back in sync with the master`, 120_000, 2000, async () => {
      const fields = infoFields(await cli(node, "redis", ["INFO", "replication"]));
      return fields.role === "slave" && fields.master_link_status === "up" ? true : undefined;
    });
  }), TEST_TIMEOUT_MS + 60_000);

  vmTest("a package upgrade never restarts Redis (policy-rc.d of the updates part); redis-node-restart then restarts a replica " +
    "under systemd and waits until it is back in sync", tracked(async () => {
    const master = await currentMaster();
    const node = c().node("replica-2") === master ? c().node("replica-1") : c().node("replica-2");
    // systemctl show puts an empty line between the units.
    const pids = async () => (await node.vm.check("systemctl show -p MainPID --value redis-server redis-sentinel")).split("\n").filter((l) => l !== "");
    const before = await pids();
    expect(before).toEqual([expect.stringMatching(/^[1-9]\d*$/), expect.stringMatching(/^[1-9]\d*$/)]);
    // The maintainer scripts' way in is refused for Redis and Sentinel only.
    for (const [args, code] of [["redis-server restart", 101], ["redis-sentinel.service start", 101], ["cron restart", 0]] as const) {
      expect({ args, code: (await node.vm.exec(`/usr/sbin/policy-rc.d ${args}`)).code }).toEqual({ args, code });
    }
    expect((await node.vm.exec("invoke-rc.d --query redis-server restart")).code).toBe(101);
    // The real thing: apt installs the packages again (their postinst restarts the services through
    // deb-systemd-invoke), and the same processes keep running.
    const reinstall = await node.vm.exec("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall redis-server redis-sentinel", 300_000);
    expect({ code: reinstall.code, stderr: reinstall.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(reinstall.stdout).toMatch(/Setting up redis-server /);
    expect(await pids()).toEqual(before);
    expect(await node.vm.check("systemctl is-active redis-server redis-sentinel")).toBe("active\nactive\n");
    // The boot said whether unattended-upgrades is there (this image, like a minimal one, lacks it).
    expect(await node.vm.check("grep -c '^redis-node-setup: updates: ' /var/log/cloud-init-output.log")).toBe("1\n");
    expect(await node.vm.check("apt-config dump | grep -E '^(APT::Periodic::(Update-Package-Lists|Unattended-Upgrade)|Unattended-Upgrade::Automatic-Reboot) '"))
      .toBe('APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\nUnattended-Upgrade::Automatic-Reboot "false";\n');

    // The rolling restart's step, as an operator runs it: the group is healthy, then this replica restarts and comes back.
    // With the emulation's bounds (a TLS redis-cli can take over 2 s here while another VM boots).
    const check = await node.vm.exec(`env ${EMULATION_BOUNDS} redis-node-restart --check`, 120_000);
    expect({ code: check.code, out: check.stdout + check.stderr }).toEqual({ code: 0, out: expect.stringContaining("may restart now: yes") });
    const restart = await node.vm.exec(`env ${EMULATION_BOUNDS} redis-node-restart`, 600_000);
    expect({ code: restart.code, out: restart.stdout + restart.stderr })
      .toEqual({ code: 0, out: expect.stringMatching(new RegExp(`done in \\d+s: this node is a replica of ${master.address.replace(/\./g, "\\.")}:`)) });
    const after = await pids();
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    const fields = infoFields(await cli(node, "redis", ["INFO", "replication"]));
    expect(fields).toMatchObject({ role: "slave", master_host: master.address, master_link_status: "up" });
    expect(await currentMaster()).toBe(master);
  }), 15 * 60_000);

  vmTest("Redis cannot reach instance metadata (the units' IPAddressDeny): MIGRATE to it never connects, while root on the node reaches it", tracked(async () => {
    const master = await currentMaster();
    // A probe port on the metadata address: root's own units read instance metadata (port 80) every minute, nothing uses this one.
    const probed = c().servers!.metadataProbeConnections;
    const fromMaster = () => probed.filter((a) => a === master.address).length;
    const key = `imds-probe-${Date.now()}`;
    expect(await cli(master, "redis", ["SET", key, "x"])).toBe("OK");
    const before = fromMaster();
    // redis-server itself opens a TCP connection to the target of MIGRATE.
    const migrate = await cli(master, "redis", ["MIGRATE", "169.254.169.254", String(METADATA_PROBE_PORT), key, "0", "2000", "COPY"]);
    // The unit's BPF filter drops the packets: the connection never reaches the metadata address.
    expect(migrate).toMatch(/^IOERR error or timeout (connecting to the client|writing to target instance)/);
    expect(fromMaster()).toBe(before);
    // The same from a root shell on the node (outside the units) gets through: the route exists, the fence is the unit's.
    expect(await master.vm.check(`timeout 5 bash -c 'cat </dev/tcp/169.254.169.254/${METADATA_PROBE_PORT}'`)).toBe("probe\n");
    expect(fromMaster()).toBe(before + 1);
    expect(await cli(master, "redis", ["DEL", key])).toBe("1");
  }), TEST_TIMEOUT_MS);

  vmTest("kill -9 of the master's redis-server: Sentinel promotes a replica before the restart delay brings it back, as a replica", tracked(async () => {
    const master = await currentMaster();
    const witness = nodes().find((n) => n !== master)!;
    // The delay the user data's drop-in sets (down-after + a split vote's retry + 10 s: 36 s by default).
    const restartSec = /^RestartSec=(\d+)$/m.exec(template(master, REDIS_RESTART_DROP_IN))?.[1];
    expect(Number(restartSec)).toBeGreaterThan(30);
    expect((await master.vm.check("systemctl show -p RestartUSec --value redis-server")).trim()).toBe(`${restartSec}s`);
    const pid = (await master.vm.check("systemctl show -p MainPID --value redis-server")).trim();
    const killedAt = Date.now();
    await master.vm.check(`kill -9 ${pid}`);
    const promoted = await waitFor("the sentinels to name a new master", 90_000, 500, async () => {
      const [address] = (await cli(witness, "sentinel", ["SENTINEL", "get-master-addr-by-name", "main"], "sentinel-client")).split("\n");
      return address !== master.address ? address : undefined;
    });
    const promotedAfter = (Date.now() - killedAt) / 1000;
    c().time("kill -9 of the master -> the sentinels name a new master", `${promotedAfter.toFixed(1)} s`);
    expect(nodes().filter((n) => n !== master).map((n) => n.address)).toContain(promoted);
    // systemd brought the crashed server back only after RestartSec, as a replica of the promoted node.
    const back = await waitFor("the old master back as a replica of the new one", 180_000, 2000, async () => {
      const fields = infoFields(await cli(master, "redis", ["INFO", "replication"]));
      return fields.role === "slave" && fields.master_host === promoted && fields.master_link_status === "up" ? fields : undefined;
    });
    expect(back.role).toBe("slave");
    const restartedAt = Number((await master.vm.check("systemctl show -p ExecMainStartTimestampMonotonic --value redis-server")).trim());
    const killedMonotonic = Number((await master.vm.check("cat /proc/uptime")).split(" ")[0]) * 1e6 - (Date.now() - killedAt) * 1000;
    expect((restartedAt - killedMonotonic) / 1e6).toBeGreaterThanOrEqual(Number(restartSec) - 1);
    c().time("kill -9 of the master -> back as a replica", `${((Date.now() - killedAt) / 1000).toFixed(0)} s`);
    // Each node's sentinel published its +switch-master to the fake EventBridge: its notification script spooled it
    // inside Sentinel's sandbox, the root sender unit signed the call with the node's role.
    const published = await waitFor("every sentinel's +switch-master at the fake EventBridge", 180_000, 2000, async () => {
      const details = c().servers!.aws.state.events.map((e) => JSON.parse(e.Detail) as Record<string, unknown>);
      const from = new Set(details.filter((d) => d.event === "+switch-master" && d.oldAddress === master.address && d.newAddress === promoted).map((d) => d.node));
      return nodes().every((n) => from.has(n.address)) ? [...from].sort() : undefined;
    });
    expect(published).toEqual(nodes().map((n) => n.address).sort());
    expect(await master.vm.check("systemctl is-enabled redis-sentinel-events.path redis-sentinel-events.timer")).toBe("enabled\nenabled\n");
    // The writer name: Sentinel's reconfiguration hook left a trigger (inside its sandbox), the root updater checked
    // the promoted node's ROLE and pointed the name at it; every write named the promoted node.
    const aws = c().servers!.aws.state;
    const { DNS_ZONE_ID: zoneId, DNS_WRITER_NAME: writerName, DNS_READER_NAME: readerName } = master.env;
    const record = (name: string) => aws.zones.get(zoneId)?.get(name)?.values ?? [];
    await waitFor("the writer name at the promoted master", 120_000, 1000, async () => (record(writerName).join() === promoted ? true : undefined));
    const writes = aws.recordChanges.filter((change) => change.name === writerName && change.at >= killedAt);
    c().time("kill -9 of the master -> writer name at the new master (first write)", `${((writes[0].at - killedAt) / 1000).toFixed(1)} s`);
    expect(writes.map((change) => change.values)).toEqual(writes.map(() => [promoted]));
    // The reader name follows the healthy replicas, the old master among them once back: the unit the timer starts
    // every minute, started here (a oneshot: systemctl waits for it) until the sentinel sees the old master's link up.
    const replicas = nodes().filter((n) => n.address !== promoted).map((n) => n.address).sort();
    const promotedNode = nodes().find((n) => n.address === promoted)!;
    await waitFor("the reader name at both replicas", 120_000, 3000, async () => {
      await promotedNode.vm.exec("systemctl start redis-dns.service", 60_000);
      return record(readerName).join() === replicas.join() ? true : undefined;
    });
    expect(aws.rejected.filter((r) => /route53|Route 53|AccessDenied|SignatureDoesNotMatch/.test(r))).toEqual([]);
    expect(await master.vm.check("systemctl is-enabled redis-dns.path redis-dns.timer")).toBe("enabled\nenabled\n");
  }), TEST_TIMEOUT_MS + 8 * 60_000);

  vmTest("a replica's VM replaced (as Terraform replaces an instance: a clean shutdown, then a new instance on the same ENI and " +
    "data volume, from the same user data): the volume is kept, not formatted, and the node resumes with a partial resync", tracked(async () => {
    // The Redis 6 VM boots beside the replacement: each keeps one core busy.
    void failingBoot("redis-6");
    const master = await currentMaster();
    // A node on EBS (the volume outlives the instance), other than replica-1 when there is one.
    const candidates = nodes().filter((n) => n !== master && onEbs(n));
    const replica = candidates.find((n) => n.name !== "replica-1") ?? candidates[0];
    const syncStats = async () => {
      const stats = infoFields(await cli(master, "redis", ["INFO", "stats"]));
      return { full: Number(stats.sync_full), partial: Number(stats.sync_partial_ok) };
    };
    const mountBefore = await dataVolumeMount(replica);
    const key = `vm-before-replacement-${Date.now()}`;
    expect(await cli(master, "redis", ["SET", key, "acknowledged"])).toBe("OK");
    expect(await cli(master, "redis", ["WAIT", "2", "5000"])).toBe("2");
    const before = await syncStats();

    const { node, poweroffSeconds } = await c().replace(replica.name, BOOT_TIMEOUT_MS);
    c().time(`${replica.name}: shutdown for the replacement`, `${poweroffSeconds.toFixed(0)} s`);
    expect(node.vm).not.toBe(replica.vm);
    expect(node.cloudInit?.status).toBe("done");
    // The new root disk knew nothing; the volume's file system was found and kept, at the same UUID.
    const log = await node.vm.check("cat /var/log/cloud-init-output.log");
    expect(log).toContain(`(${node.env.DATA_VOLUME_ID}) has an XFS file system: keeping its data`);
    expect(log).not.toContain("is blank: formatting it");
    expect(await dataVolumeMount(node)).toEqual(mountBefore);
    // The role decision asked the sentinels: a replica of the current master, not what the user data planned.
    expect(await node.vm.check("cat /var/lib/redis-node/role-decision")).toMatch(
      new RegExp(`^\\S+ replica of ${master.address.replace(/\./g, "\\.")}:${master.env.REDIS_PORT}: the sentinels name `));
    await waitFor(`${node.name} (replaced) in sync with the master`, 180_000, 2000, async () => {
      const fields = infoFields(await cli(node, "redis", ["INFO", "replication"]));
      return fields.role === "slave" && fields.master_host === master.address && fields.master_link_status === "up" ? true : undefined;
    });
    expect(await cli(node, "redis", ["GET", key])).toBe("acknowledged");
    // It resumed from the snapshot Redis saved at the shutdown: a partial resync, no full one.
    const after = await syncStats();
    expect({ partial: after.partial - before.partial, full: after.full - before.full }).toEqual({ partial: 1, full: 0 });
    expect(await currentMaster()).toBe(master);
  }), BOOT_TIMEOUT_MS + 10 * 60_000);

  /** Redis and Sentinel stopped, disabled and masked; nothing listens on their ports; no process of theirs. */
  async function expectLockedDown(node: BootedNode): Promise<void> {
    expect({ node: node.name, active: (await node.vm.exec("systemctl is-active redis-server redis-sentinel")).stdout })
      .toEqual({ node: node.name, active: "inactive\ninactive\n" });
    expect({ node: node.name, enabled: (await node.vm.exec("systemctl is-enabled redis-server redis-sentinel")).stdout })
      .toEqual({ node: node.name, enabled: "masked\nmasked\n" });
    const ports = [port(node, "redis"), port(node, "sentinel")];
    expect({ node: node.name, listening: await node.vm.check(`ss -Htln '( sport = :${ports[0]} or sport = :${ports[1]} )'; pgrep -a redis || true`) })
      .toEqual({ node: node.name, listening: "" });
    for (const what of ["redis", "sentinel"] as const) await expect(cli(node, what, ["PING"], "admin")).rejects.toThrow(/Connection refused|Could not connect/);
  }

  vmTest("a setup that fails leaves Redis and Sentinel stopped, disabled and masked, no port open (replica-1, last)", tracked(async () => {
    const node = c().node("replica-1");
    // Settings naming a step the library does not have: the library installs, then the setup fails at its first check.
    const r = await node.vm.exec("sed \"s/^BOOT_PARTS=.*/BOOT_PARTS='no-such-part'/\" /etc/redis-node/node.env >/run/broken.env && REDIS_NODE_ENV=/run/broken.env /usr/local/sbin/redis-node-boot", 120_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("boot part no-such-part failed in its check step");
    expect(r.stderr).toContain("setup failed: redis-server.service redis-sentinel.service stay stopped, disabled and masked");
    // No fetched secret is left; redis-node-restart's lock file stays where the rolling scenario ran on this replica.
    expect(await node.vm.check("ls -A /run/redis-node/ | grep -vx node-restart.lock || true")).toBe("");
    await expectLockedDown(node);
  }), TEST_TIMEOUT_MS);

  // Two more VMs, each from a copy of replica-1's user data, started when a
  // core is free (see beforeAll and the replacement): one whose role may
  // read nothing, one whose apt repository has Redis 6.0.
  const failingBoots = new Map<FailingBoot, Promise<BootedNode>>();
  const failingBoot = (name: FailingBoot): Promise<BootedNode> => {
    let boot = failingBoots.get(name);
    if (!boot) {
      boot = (async () => {
        const aptRoot = name === "redis-6" ? await buildOldRedisRepo(c().image!.repoDir, path.join(c().runDir, "old-redis-repo")) : undefined;
        const [node] = await c().bootExtra([{ name, like: "replica-1", secretsDenied: name === "secrets-denied", aptRoot }], FAILING_BOOT_TIMEOUT_MS);
        return node;
      })();
      failingBoots.set(name, boot);
      // Awaited by the tests that need it; a failure is theirs to report.
      boot.catch(() => undefined);
    }
    return boot;
  };
  const outputLog = "/var/log/cloud-init-output.log";

  /**
   * The secrets-denied VM's whole story, started in beforeAll so that its
   * boot and its reboot run beside the other scenarios: cloud-init error, a
   * clear message, nothing of Redis running; then the same after a reboot.
   */
  let secretsDenied: Promise<void> | undefined;
  const secretsDeniedChecked = () => secretsDenied ??= (async () => {
    const node = await failingBoot("secrets-denied");
    expect(node.cloudInit?.status).toBe("error");
    const aws = c().servers!.aws.state;
    const first = template(node, "/etc/redis-node/secrets.list").trim().split("\n")[0].split(" ").slice(3).join(" ");
    // It tried (10 attempts, bounded), was refused every time, and got nothing.
    expect(aws.denied.filter((d) => d === `${node.address} ${first}`)).toHaveLength(10);
    expect(servedTo(node)).toEqual(libraryOf(node));
    const log = await node.vm.check(`cat ${outputLog}`);
    expect(log).toContain(`cannot read the secret from ssm '${first}': ssm answered: `);
    expect(log).toContain("is not authorized to perform: ssm:GetParameter");
    expect(log).toContain("setup failed: redis-server.service redis-sentinel.service stay stopped, disabled and masked");
    expect(log).not.toMatch(/^redis-node-setup: done$/m);
    // Masked before apt installed them: the packaged services never started, not even with the stock settings.
    expect(await node.vm.check("cat /var/log/redis/*.log 2>/dev/null | grep -c 'Redis is starting' || true")).toBe("0\n");
    expect(await node.vm.check("ls -A /run/redis-node/")).toBe("");
    await expectLockedDown(node);

    const seconds = await node.vm.reboot(REBOOT_TIMEOUT_MS);
    c().time("secrets-denied: reboot -> guest agent answers", `${seconds.toFixed(0)} s`);
    await node.vm.waitForCloudInit(180_000, Date.now());
    await expectLockedDown(node);
    expect(await node.vm.check("cat /var/log/redis/*.log 2>/dev/null | grep -c 'Redis is starting' || true")).toBe("0\n");
  })();

  vmTest("a node whose role may not read its secrets: cloud-init error, a clear message, no Redis or Sentinel port, also after a reboot",
    tracked(() => secretsDeniedChecked()), FAILING_BOOT_TIMEOUT_MS + REBOOT_TIMEOUT_MS + 4 * 60_000);

  vmTest(`a node whose apt gives Redis ${OLD_REDIS_VERSION} is refused before it reads a secret or changes a setting`, tracked(async () => {
    const node = await failingBoot("redis-6");
    expect(node.cloudInit?.status).toBe("error");
    // cloud-init installed the Redis 6.0 packages of its repository.
    const fetched = c().servers!.aptRequests.filter((r) => r.from === node.address && r.status === 200).map((r) => decodeURIComponent(r.path));
    for (const pkg of ["redis-server", "redis-sentinel", "redis-tools"]) {
      expect({ pkg, fetched: fetched.some((p) => p.includes(`${pkg}_5%3a${OLD_REDIS_VERSION}`)) }).toEqual({ pkg, fetched: true });
    }
    expect((await node.vm.check("redis-server --version")).trim()).toContain(`v=${OLD_REDIS_VERSION}`);
    const log = await node.vm.check(`cat ${outputLog}`);
    expect(log).toContain(`redis-server is version ${OLD_REDIS_VERSION}; this node needs Redis >= 7.0`);
    expect(log).toContain("setup failed: redis-server.service redis-sentinel.service stay stopped, disabled and masked");
    // Every check runs before any step: nothing read but the boot library, the kernel settings and THP unit untouched.
    const aws = c().servers!.aws.state;
    expect(servedTo(node)).toEqual(libraryOf(node));
    expect(aws.denied.map((d) => d.split(" ")[0])).not.toContain(node.address);
    expect(await node.vm.check("cat /proc/sys/vm/overcommit_memory; systemctl is-enabled redis-disable-thp.service || true")).toBe("0\ndisabled\n");
    await expectLockedDown(node);
  }), FAILING_BOOT_TIMEOUT_MS + 3 * 60_000);

  vmTest("the tuning step fails when THP stays on (a THP unit that does nothing), and passes with the real unit (on the redis-6 VM)", tracked(async () => {
    const node = await failingBoot("redis-6");
    // The boot installed the library before its checks refused Redis 6.
    const step = libraryPathOnNode("parts/tuning.sh");
    expect(await node.vm.check(`stat -c %a ${step}`)).toBe("755\n");
    const unit = "redis-disable-thp.service";
    const thp = "/sys/kernel/mm/transparent_hugepage/enabled";
    await node.vm.check(`mkdir -p /run/systemd/system/${unit}.d && printf '[Service]\\nExecStart=\\nExecStart=/bin/true\\n' >/run/systemd/system/${unit}.d/does-nothing.conf && ` +
      `systemctl daemon-reload && echo always >${thp}`);
    const broken = await node.vm.exec(`bash ${step} prepare`, 60_000);
    expect({ code: broken.code, stderr: broken.stderr }).toEqual({ code: 1, stderr: expect.stringContaining("transparent huge pages are still enabled") });
    await node.vm.check(`systemctl stop ${unit}; rm -r /run/systemd/system/${unit}.d && systemctl daemon-reload`);
    const real = await node.vm.exec(`bash ${step} prepare`, 60_000);
    expect({ code: real.code, stderr: real.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(await node.vm.check(`cat ${thp}; cat /proc/sys/vm/overcommit_memory`)).toMatch(/\[never\]\n1\n$/);
  }), FAILING_BOOT_TIMEOUT_MS + 3 * 60_000);
}
