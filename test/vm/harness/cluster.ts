/**
 * Boots every node of examples/basic on its own VM, side by side: the image
 * (built or cached), the bridge, the fakes and the apt repository on the
 * bridge host, one VM per node with that node's synthesized user data.
 * Everything is removed by destroy(), also when a step failed or timed out;
 * if the test process dies first, the network's reaper (reaper.sh) removes
 * the VMs and the network. Logs are kept (and their directory printed) on
 * failure.
 */
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SentinelOptions } from "../../../lib";
import { NODE_ENV_PATH } from "../../../lib/boot";
import { FakeCredentials } from "../../support/fake-aws";
import { issueCertificate, makeCa, TestCa } from "../../tls-fixtures";
import { ensureImage, VmImage } from "./image";
import { BridgeNetwork, cleanupStale, createBridgeNetwork } from "./network";
import { BridgeServers, startBridgeServers } from "./servers";
import { ExampleNode, nodeEnv, synthesizeExampleNodes, userDataAsEc2ReceivesIt } from "./user-data";
import { CloudInitStatus, Vm, VmOptions } from "./vm";

export const METADATA_ADDRESS = "169.254.169.254";
const PREFIX_LENGTH = 24;
const ROLE = "redis-vm-test-node-role";
const CREDS: FakeCredentials = { AccessKeyId: "ASIAVMTESTKEY0000001", SecretAccessKey: "vM/tEsT+Secret/Key/0123456789abcdefghijKL", Token: "IQoJb3JpZ2luX2VjVMTEST/session+token==" };

export interface ClusterOptions {
  readonly memoryMb: number;
  readonly imageTimeoutMs: number;
  /** From the first VM's start until every node's cloud-init has finished. */
  readonly bootTimeoutMs: number;
  /** Taps kept free for VMs that bootExtra() starts later. @default 0 */
  readonly extraSlots?: number;
  /**
   * Nodes booted from the example with its data on the instance store
   * (`dataVolume.instanceStore`): their user data comes from that stack, and
   * their data disk has an instance-store serial. @default none
   */
  readonly instanceStoreNodes?: readonly string[];
  /** The example's sentinel settings: dedicated sentinel nodes boot a VM each. @default a sentinel on each data node */
  readonly sentinel?: SentinelOptions;
}

/** A VM booted later from a copy of one node's user data, to see that node's boot fail. */
export interface ExtraVm {
  readonly name: string;
  /** The node whose user data it gets, byte for byte. */
  readonly like: string;
  /** The fake AWS refuses this VM's every read (its role may read nothing). */
  readonly secretsDenied?: boolean;
  /** Another apt repository for this VM (a directory like the image's repo/). */
  readonly aptRoot?: string;
}

export interface BootedNode {
  readonly name: string;
  readonly address: string;
  readonly vm: Vm;
  /** The bytes the VM got as user data. */
  readonly userData: Buffer;
  /** The boot script's settings (node.env) from that user data. */
  readonly env: Record<string, string>;
  /** cloud-init's final status and seconds from QEMU's start to seeing it. */
  cloudInit?: { status: CloudInitStatus; seconds: number };
}

/** 32 letters and digits, like the secrets AWS generates for the example. */
function randomPassword(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(32), (b) => alphabet[b % alphabet.length]).join("");
}

/**
 * What the fake SSM holds for one of the example's parameters, by the name
 * the library gave it: each user's password or its SHA-256, the group's CA
 * certificate, a node's key or certificate (made with openssl for the VM's
 * address, as Terraform's tls provider would for the ENI's).
 */
function parameterValue(name: string, passwords: Map<string, string>, ca: TestCa, tlsOf: (node: string) => { key: string; certificate: string }): string {
  const user = /\/users\/([^/]+)\/password(-sha256)?$/.exec(name);
  if (user) {
    if (!passwords.has(user[1])) passwords.set(user[1], randomPassword());
    const password = passwords.get(user[1])!;
    return user[2] ? createHash("sha256").update(password).digest("hex") : password;
  }
  if (/\/tls\/ca-certificate$/.test(name)) return ca.pem;
  const tls = /\/tls\/([^/]+)\/(key|certificate)$/.exec(name);
  if (tls) return fs.readFileSync(tls[2] === "key" ? tlsOf(tls[1]).key : tlsOf(tls[1]).certificate, "utf8");
  throw new Error(`no test value for parameter ${name}`);
}

/**
 * Where the first boot's time went, read in the guest with grep and
 * journalctl only (no Python start): uptime at each cloud-init stage, how
 * long `packages:` and the boot script took, and the boot script's steps
 * (seconds since the script started). Never throws: a note instead.
 */
export async function bootBreakdown(vm: Vm): Promise<string> {
  try {
    const out = await vm.check([
      "grep -oE \"running '[a-z:-]+' at .* Up [0-9.]+ seconds|finished at .* Up [0-9.]+ seconds\" /var/log/cloud-init-output.log | head -5",
      "echo ---",
      "grep -E ' (start|finish): modules-final/config-(package-update-upgrade-install|scripts-user):' /var/log/cloud-init.log | head -4 | cut -c1-23,45-120",
      "echo ---",
      "journalctl -b -o short-unix --no-pager | sed -n 's/^\\([0-9.]*\\) [^:]*: redis-node-setup: /\\1 /p' | cut -c1-160",
    ].join("; "), 30_000);
    const [stages, modules, steps] = out.split("---\n");
    const up = (what: string) => new RegExp(`${what} at .* Up ([0-9.]+) seconds`).exec(stages)?.[1];
    const parts = [
      `init-local at ${up("running 'init-local'")} s`, `init ${up("running 'init'")} s`, `config ${up("running 'modules:config'")} s`,
      `final ${up("running 'modules:final'")} s`, `done ${up("finished")} s (uptime)`,
    ];
    const stamp = (module: string, edge: string) => {
      const m = new RegExp(`^(\\d{4}-\\d\\d-\\d\\d) (\\d\\d:\\d\\d:\\d\\d),(\\d{3}).*${edge}: modules-final/config-${module}`, "m").exec(modules);
      return m ? Date.parse(`${m[1]}T${m[2]}.${m[3]}Z`) : NaN;
    };
    for (const [module, label] of [["package-update-upgrade-install", "packages"], ["scripts-user", "boot script"]]) {
      parts.push(`${label} ${((stamp(module, "finish") - stamp(module, "start")) / 1000).toFixed(0)} s`);
    }
    const lines = steps.trim().split("\n").filter(Boolean).map((l) => [Number(l.slice(0, l.indexOf(" "))), l.slice(l.indexOf(" ") + 1)] as const);
    const first = lines[0]?.[0] ?? 0;
    const step = (pattern: RegExp) => {
      const line = lines.find(([, text]) => pattern.test(text));
      return line ? `+${(line[0] - first).toFixed(0)}` : "-";
    };
    parts.push(`script steps (s after its first line): secrets ${step(/^read \d+ secrets/)}, TLS ${step(/^TLS key/)}, volume ${step(/ mounted at /)}, ` +
      `redis PONG ${step(/^port \d+ answers/)}, done ${step(/^done$/)}`);
    return parts.join("; ");
  } catch (e) {
    return `no breakdown (${(e as Error).message.split("\n")[0]})`;
  }
}

export class VmCluster {
  readonly runDir: string;
  /** Each user's password, as the fake SSM hands it out. */
  readonly passwords = new Map<string, string>();
  /** The group's test CA; clients on the host trust it. */
  ca: TestCa | undefined;
  readonly nodes: BootedNode[] = [];
  readonly timings: Array<[string, string]> = [];
  image: VmImage | undefined;
  servers: BridgeServers | undefined;
  private network: BridgeNetwork | undefined;
  /** VMs started by bootExtra(), after the nodes. */
  private readonly extras: BootedNode[] = [];
  /** VMs that replace() shut down, for the teardown. */
  private readonly retired: BootedNode[] = [];
  private readonly dataDisks = new Map<string, VmOptions["dataDisk"]>();
  private subnet = "";
  private destroyed: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  /** Set by destroy(): start() stops before it makes anything new. */
  private readonly stopping = new AbortController();

  constructor(private readonly opts: ClusterOptions) {
    const base = process.env.REDIS_VM_LOGS ?? os.tmpdir();
    fs.mkdirSync(base, { recursive: true });
    this.runDir = fs.mkdtempSync(path.join(base, "redis-vm-run-"));
  }

  node(name: string): BootedNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name} (have ${this.nodes.map((n) => n.name).join(", ")})`);
    return node;
  }

  time(what: string, value: string): void {
    this.timings.push([what, value]);
  }

  /** Builds or finds the image, starts the network, the fakes and the VMs, waits for cloud-init on each. */
  start(): Promise<void> {
    this.starting ??= this.startNow();
    return this.starting;
  }

  /** Throws once destroy() has begun, so a start that outlived its time limit makes nothing more. */
  private checkNotStopping(): void {
    if (this.stopping.signal.aborted) throw new Error("the VM run is being torn down");
  }

  private async startNow(): Promise<void> {
    const stale = cleanupStale();
    if (stale.length > 0) console.warn(`VM harness: removed what dead runs left: ${stale.join(", ")}`);

    const image = await ensureImage(path.join(this.runDir, "build-image.log"), this.opts.imageTimeoutMs, this.stopping.signal);
    this.image = image;
    this.checkNotStopping();
    this.time("image", image.builtNow
      ? `built in ${(image.elapsedMs / 1000).toFixed(1)} s (cold cache)`
      : `cached, ${(image.elapsedMs / 1000).toFixed(2)} s (its build took ${image.buildSeconds} s)`);

    const onInstanceStore = new Set(this.opts.instanceStoreNodes ?? []);
    const variant = onInstanceStore.size > 0 ? synthesizeExampleNodes(image.region, true, this.opts.sentinel) : [];
    const examples = synthesizeExampleNodes(image.region, false, this.opts.sentinel)
      .map((n) => {
        if (!onInstanceStore.has(n.name)) return n;
        const twin = variant.find((v) => v.name === n.name && v.eni === n.eni);
        if (!twin) throw new Error(`${n.name}: the instance-store example has no node of that name and interface`);
        return twin;
      })
      .sort((a, b) => Number(b.name === "master") - Number(a.name === "master"));
    const subnet = image.bridgeHost.replace(/\.\d+$/, "");
    this.subnet = subnet;
    const addressOf = new Map<ExampleNode, string>(examples.map((n, i) => [n, `${subnet}.${10 + i}`]));
    const byEni = Object.fromEntries(examples.map((n) => [n.eni, addressOf.get(n)!]));
    const maxMemoryMb = Math.floor(this.opts.memoryMb * 0.7);

    this.network = await createBridgeNetwork({ hostAddress: image.bridgeHost, prefixLength: PREFIX_LENGTH, metadataAddress: METADATA_ADDRESS, tapCount: examples.length + (this.opts.extraSlots ?? 0) });
    this.checkNotStopping();

    const userData = examples.map((n) => userDataAsEc2ReceivesIt(n, byEni, maxMemoryMb));
    const envs = userData.map((u) => nodeEnv(u, NODE_ENV_PATH));
    // The fake SSM holds every parameter of the example, with test values.
    const tlsDir = path.join(this.runDir, "tls");
    fs.mkdirSync(tlsDir, { mode: 0o700 });
    const ca = makeCa(tlsDir, "group-ca");
    this.ca = ca;
    const certificates = new Map<string, { key: string; certificate: string }>();
    const tlsOf = (name: string) => {
      const example = examples.find((n) => n.name === name);
      if (!example) throw new Error(`a TLS parameter names node ${name}, which the example does not have`);
      if (!certificates.has(name)) certificates.set(name, issueCertificate(ca, name, [addressOf.get(example)!]));
      return certificates.get(name)!;
    };
    const stored = { ssm: new Map<string, string>(), secretsmanager: new Map<string, string>() };
    for (const name of Object.values(examples[0].parameterNames)) {
      const library = examples[0].libraryParameters[name];
      stored.ssm.set(name, library ?? parameterValue(name, this.passwords, ca, tlsOf));
    }
    this.servers = await startBridgeServers(image, METADATA_ADDRESS, this.runDir, { role: ROLE, creds: CREDS, stored });
    this.checkNotStopping();
    // The zone as Terraform leaves it: the writer name at the planned master, the reader name at the planned
    // replicas; the node roles may change these two names only.
    const dns = envs[0];
    if (dns.DNS_ZONE_ID) {
      const planned = (role: string) => examples.filter((_, i) => envs[i].ROLE_PLANNED === role).map((n) => addressOf.get(n)!).sort();
      const ttl = Number(dns.DNS_TTL);
      this.servers.aws.state.zones.set(dns.DNS_ZONE_ID, new Map([
        [dns.DNS_WRITER_NAME, { type: "A", ttl, values: planned("master") }],
        [dns.DNS_READER_NAME, { type: "A", ttl, values: planned("replica") }],
      ]));
      this.servers.aws.state.changeableNames = [dns.DNS_WRITER_NAME, dns.DNS_READER_NAME];
    }

    examples.forEach((example, i) => {
      // The node's EBS volume: an NVMe disk with the volume id as serial, outside the VM's
      // directory so that a VM replacing this one can be given the same disk. Or its
      // instance-store disk: a serial of AWS and 17 characters.
      const diskPath = path.join(this.runDir, `${example.name}-data-volume.raw`);
      const dataDisk = envs[i].DATA_VOLUME_ID
        ? { path: diskPath, serial: envs[i].DATA_VOLUME_ID.replace("-", "") }
        : envs[i].DATA_INSTANCE_STORE === "1"
          ? { path: diskPath, serial: `AWS1A2B3C4D5E6F7000${i}` }
          : undefined;
      const vm = this.newVm(example.name, addressOf.get(example)!, i, userData[i], dataDisk);
      this.nodes.push({ name: example.name, address: vm.address, vm, userData: userData[i], env: envs[i] });
    });
    for (const node of this.nodes) await node.vm.prepare();
    this.checkNotStopping();
    const bootStarted = Date.now();
    for (const node of this.nodes) this.network.recordQemuPid(node.vm.start());

    const results = await Promise.allSettled(this.nodes.map(async (node) => {
      node.cloudInit = await node.vm.waitForCloudInit(this.opts.bootTimeoutMs - (Date.now() - bootStarted));
    }));
    for (const node of this.nodes) {
      this.time(`${node.name}: QEMU start -> cloud-init ${node.cloudInit?.status ?? "?"}`, node.cloudInit ? `${node.cloudInit.seconds.toFixed(0)} s` : "not finished");
    }
    for (const node of this.nodes) if (node.cloudInit) this.time(`${node.name}: in the guest`, await bootBreakdown(node.vm));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => String(r.reason?.message ?? r.reason));
    if (failures.length > 0) throw new Error(failures.join("\n"));
  }

  /** A VM on the tap of `slot`, at `address`, with `userData` as its seed's user data. */
  private newVm(name: string, address: string, slot: number, userData: Buffer, dataDisk?: VmOptions["dataDisk"], generation = 0): Vm {
    const image = this.image!;
    this.dataDisks.set(name, dataDisk);
    return new Vm({
      name,
      address,
      prefixLength: PREFIX_LENGTH,
      mac: `52:54:00:d5:fa:${(10 + slot).toString(16).padStart(2, "0")}`,
      tap: this.network!.taps[slot],
      gateway: image.bridgeHost,
      metadataAddress: METADATA_ADDRESS,
      instanceId: `i-${this.network!.prefix}${slot}${generation ? `r${generation}` : ""}`,
      userData,
      image,
      dir: path.join(this.runDir, generation ? `${name}-replacement-${generation}` : name),
      memoryMb: this.opts.memoryMb,
      dataDisk,
    });
  }

  /**
   * Boots more VMs side by side on the free taps (at .30, .31, ...), each
   * with a copy of one node's user data, and waits (bounded) until
   * cloud-init has finished on each, with whatever status. For boots that
   * must fail: the fake AWS refuses a VM's reads, or a VM gets another apt
   * repository.
   */
  async bootExtra(extras: readonly ExtraVm[], timeoutMs: number): Promise<BootedNode[]> {
    const free = (this.opts.extraSlots ?? 0) - this.extras.length;
    if (extras.length > free) throw new Error(`bootExtra: ${extras.length} VMs asked, ${free} taps free (raise extraSlots)`);
    this.checkNotStopping();
    const started: BootedNode[] = [];
    for (const extra of extras) {
      const like = this.node(extra.like);
      const slot = this.nodes.length + this.extras.length;
      const address = `${this.subnet}.${30 + this.extras.length}`;
      const vm = this.newVm(extra.name, address, slot, like.userData);
      const node: BootedNode = { name: extra.name, address, vm, userData: like.userData, env: like.env };
      this.extras.push(node);
      started.push(node);
      if (extra.secretsDenied) {
        // Its role may read the boot library, not its secrets.
        const state = this.servers!.aws.state;
        state.deniedTo.push(address);
        state.readableWhenDenied = like.env.BOOT_LIBRARY_PARAMETERS.split(" ");
      }
      if (extra.aptRoot) this.servers!.aptRootFor.set(address, extra.aptRoot);
      await vm.prepare();
    }
    this.checkNotStopping();
    const bootStarted = Date.now();
    for (const node of started) this.network!.recordQemuPid(node.vm.start());
    const results = await Promise.allSettled(started.map(async (node) => {
      node.cloudInit = await node.vm.waitForCloudInit(timeoutMs - (Date.now() - bootStarted));
      this.time(`${node.name}: QEMU start -> cloud-init ${node.cloudInit.status}`, `${node.cloudInit.seconds.toFixed(0)} s`);
      this.time(`${node.name}: in the guest`, await bootBreakdown(node.vm));
    }));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => String(r.reason?.message ?? r.reason));
    if (failures.length > 0) throw new Error(failures.join("\n"));
    return started;
  }

  /**
   * Replaces a node's VM as Terraform replaces an instance: the old VM shuts
   * down cleanly (as at a termination; its logs are copied first), then a
   * new VM boots on the same tap, address and data disk (the ENI and the EBS
   * volume outlive the instance) from the same user data, with a fresh root
   * disk and a new instance id. Waits (bounded) for cloud-init on it.
   */
  async replace(name: string, timeoutMs: number): Promise<{ node: BootedNode; poweroffSeconds: number }> {
    const old = this.node(name);
    const slot = this.nodes.indexOf(old);
    const generation = this.retired.filter((n) => n.name === name).length + 1;
    await old.vm.collectLogs(path.join(this.runDir, name, "guest-before-replacement")).catch(() => undefined);
    const poweroffSeconds = await old.vm.poweroff(Math.min(timeoutMs, 5 * 60_000));
    this.retired.push(old);
    this.checkNotStopping();
    const vm = this.newVm(name, old.address, slot, old.userData, this.dataDisks.get(name), generation);
    const node: BootedNode = { name, address: old.address, vm, userData: old.userData, env: old.env };
    this.nodes[slot] = node;
    await vm.prepare();
    this.network!.recordQemuPid(vm.start());
    node.cloudInit = await vm.waitForCloudInit(timeoutMs);
    this.time(`${name} (replacement): QEMU start -> cloud-init ${node.cloudInit.status}`, `${node.cloudInit.seconds.toFixed(0)} s`);
    this.time(`${name} (replacement): in the guest`, await bootBreakdown(vm));
    return { node, poweroffSeconds };
  }

  /** Kills the VMs, closes the servers, removes the network; keeps the logs when `keepLogs`. Idempotent. */
  destroy(keepLogs: boolean): Promise<void> {
    this.destroyed ??= this.destroyNow(keepLogs);
    return this.destroyed;
  }

  private async destroyNow(keepLogs: boolean): Promise<void> {
    const errors: string[] = [];
    // A start still going (its hook timed out): stop it, let it settle (bounded), then remove what it made.
    this.stopping.abort();
    if (this.starting) {
      for (const node of [...this.nodes, ...this.extras]) node.vm.abandon();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.starting.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 60_000)))]);
      clearTimeout(timer);
    }
    if (keepLogs) {
      for (const node of [...this.nodes, ...this.extras]) {
        await node.vm.collectLogs(path.join(this.runDir, node.name, "guest")).catch((e: Error) => errors.push(`logs of ${node.name}: ${e.message}`));
      }
      if (this.servers) {
        fs.writeFileSync(path.join(this.runDir, "fake-aws.json"), JSON.stringify(this.servers.aws.state, null, 2));
        fs.writeFileSync(path.join(this.runDir, "apt-requests.json"), JSON.stringify(this.servers.aptRequests, null, 2));
      }
    }
    for (const node of [...this.nodes, ...this.extras, ...this.retired]) await node.vm.kill().catch((e: Error) => errors.push(`stopping ${node.name}: ${e.message}`));
    await this.servers?.close().catch((e: Error) => errors.push(`closing the servers: ${e.message}`));
    try {
      await this.network?.destroy();
    } catch (e) {
      errors.push((e as Error).message);
    }
    if (keepLogs) {
      // The disks are large and say nothing the logs do not.
      for (const node of [...this.nodes, ...this.extras, ...this.retired]) {
        for (const f of ["root.qcow2", "seed.iso", "qga.sock"]) fs.rmSync(path.join(node.vm.opts.dir, f), { force: true });
      }
      console.error(`VM logs kept in ${this.runDir} (serial consoles, cloud-init logs, journals)`);
    } else {
      fs.rmSync(this.runDir, { recursive: true, force: true });
    }
    if (errors.length > 0) throw new Error(`VM cleanup: ${errors.join("; ")}`);
  }
}
