/**
 * One QEMU VM (TCG: KVM fails on this kind of host) booting the cached
 * Debian 12 image through a qcow2 overlay, with a NoCloud seed holding the
 * node's user data (raw bytes: plain or gzip'd cloud-config), a static
 * address on its tap, qemu-guest-agent for commands, the serial console in
 * a file.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { run } from "../../integration/harness/netns";
import { GuestAgent } from "./guest-agent";
import { VmImage } from "./image";

export interface VmOptions {
  readonly name: string;
  /** The address that stands in for the node's ENI. */
  readonly address: string;
  readonly prefixLength: number;
  readonly mac: string;
  readonly tap: string;
  /** Bridge host: the route to the metadata address goes through it. */
  readonly gateway: string;
  readonly metadataAddress: string;
  readonly instanceId: string;
  /** The user data exactly as EC2 would hand it to the instance. */
  readonly userData: Buffer;
  readonly image: VmImage;
  /** Overlay, seed, sockets and logs of this VM go here. */
  readonly dir: string;
  readonly memoryMb: number;
  /**
   * The node's data disk: a raw file (made blank when missing; kept by the
   * caller so a replacing VM gets it back) shown to the guest as an NVMe
   * disk with the serial EC2 gives it: an EBS volume's id without its dash,
   * or AWS... for an instance-store disk. QEMU cannot set EC2's model names;
   * the boot finds the disk by serial (/dev/disk/by-id/nvme-<model>_<serial>),
   * which works on both.
   */
  readonly dataDisk?: { readonly path: string; readonly serial: string; readonly sizeMb?: number };
}

/**
 * QEMU's arguments for an NVMe disk that stands in for an EBS volume (serial:
 * the volume id without its dash) or an instance-store disk (serial: AWS and
 * 17 characters). NVMe serials are 20 characters at most.
 */
export function nvmeDataDiskArgs(path: string, serial: string): string[] {
  if (!/^(vol[0-9a-f]{17}|AWS[0-9A-F]{17})$/.test(serial)) throw new Error(`not the NVMe serial of an EBS volume or an instance-store disk: ${serial}`);
  return ["-drive", `file=${path},if=none,id=data0,format=raw,cache=unsafe`, "-device", `nvme,serial=${serial},drive=data0`];
}

export type CloudInitStatus = "done" | "error" | "running" | "not started" | "disabled" | string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts the lines matching `pattern` that a growing log file gains after the watch starts. */
class ConsoleWatch {
  private offset: number;
  private partial = "";

  constructor(private readonly file: string, private readonly pattern: RegExp) {
    this.offset = ConsoleWatch.size(file);
  }

  private static size(file: string): number {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  }

  /** Matching lines completed since the last call (a read of at most 1 MiB). */
  newMatches(): number {
    const size = ConsoleWatch.size(this.file);
    if (size < this.offset) this.offset = 0; // Truncated: a new file.
    if (size === this.offset) return 0;
    const length = Math.min(size - this.offset, 1 << 20);
    const buffer = Buffer.alloc(length);
    const fd = fs.openSync(this.file, "r");
    try {
      fs.readSync(fd, buffer, 0, length, this.offset);
    } finally {
      fs.closeSync(fd);
    }
    this.offset += length;
    const lines = (this.partial + buffer.toString("latin1")).split("\n");
    this.partial = lines.pop() ?? "";
    return lines.filter((line) => this.pattern.test(line)).length;
  }
}

export class Vm {
  readonly agent: GuestAgent;
  readonly serialLog: string;
  readonly qemuLog: string;
  private process: ChildProcess | undefined;
  private exit: string | undefined;
  /** Date.now() when QEMU was started. */
  startedAt = 0;

  constructor(readonly opts: VmOptions) {
    this.serialLog = path.join(opts.dir, "serial.log");
    this.qemuLog = path.join(opts.dir, "qemu.log");
    this.agent = new GuestAgent(path.join(opts.dir, "qga.sock"));
  }

  get name(): string {
    return this.opts.name;
  }

  get address(): string {
    return this.opts.address;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Writes the overlay and the NoCloud seed. */
  async prepare(): Promise<void> {
    const { dir, image } = this.opts;
    fs.mkdirSync(dir, { recursive: true });
    await run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", image.rootImage, "-F", "raw", path.join(dir, "root.qcow2")]);
    fs.writeFileSync(path.join(dir, "user-data"), this.opts.userData);
    fs.writeFileSync(path.join(dir, "meta-data"), `instance-id: ${this.opts.instanceId}\nlocal-hostname: ${this.opts.name}\n`);
    fs.writeFileSync(path.join(dir, "network-config.yaml"), [
      "version: 2",
      "ethernets:",
      "  eni0:",
      "    match:",
      `      macaddress: "${this.opts.mac}"`,
      `    addresses: [${this.opts.address}/${this.opts.prefixLength}]`,
      "    routes:",
      `      - to: ${this.opts.metadataAddress}/32`,
      `        via: ${this.opts.gateway}`,
      "",
    ].join("\n"));
    await run(["cloud-localds", "-N", path.join(dir, "network-config.yaml"), path.join(dir, "seed.iso"),
      path.join(dir, "user-data"), path.join(dir, "meta-data")]);
    const disk = this.opts.dataDisk;
    // Sparse and blank, as a new EBS volume: the boot formats it (XFS needs 300 MB at least).
    if (disk && !fs.existsSync(disk.path)) await run(["qemu-img", "create", "-q", "-f", "raw", disk.path, `${disk.sizeMb ?? 1024}M`]);
  }

  /** Starts QEMU; returns its pid. */
  start(): number {
    const { dir, image, tap, mac, memoryMb } = this.opts;
    const log = fs.openSync(this.qemuLog, "a");
    const argv = [
      "-name", this.opts.name,
      "-accel", "tcg,thread=multi", "-cpu", "max", "-m", String(memoryMb), "-smp", "1",
      "-nographic", "-monitor", "none",
      "-kernel", image.kernel, "-initrd", image.initrd, "-append", "root=/dev/vda rw console=ttyS0",
      // cache=unsafe: the guest's flushes (dpkg syncs every file it unpacks) end in the host's page
      // cache instead of the host's disk; what QEMU wrote is there for the next reader of the file
      // (a reboot, a replacing VM), and only a crash of the host could lose it.
      "-drive", `file=${path.join(dir, "root.qcow2")},if=virtio,format=qcow2,cache=unsafe`,
      "-drive", `file=${path.join(dir, "seed.iso")},if=virtio,format=raw,readonly=on`,
      ...(this.opts.dataDisk ? nvmeDataDiskArgs(this.opts.dataDisk.path, this.opts.dataDisk.serial) : []),
      "-netdev", `tap,id=net0,ifname=${tap},script=no,downscript=no`,
      "-device", `virtio-net-pci,netdev=net0,mac=${mac}`,
      "-chardev", `socket,id=qga0,path=${path.join(dir, "qga.sock")},server=on,wait=off`,
      "-device", "virtio-serial-pci",
      "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
      "-serial", `file:${this.serialLog}`,
    ];
    const child = spawn("qemu-system-x86_64", argv, { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    this.process = child;
    this.startedAt = Date.now();
    child.on("exit", (code, signal) => (this.exit = `QEMU of ${this.name} exited (code ${code}, signal ${signal}); see ${this.qemuLog}`));
    child.on("error", (e) => (this.exit = `QEMU of ${this.name} failed to start: ${e.message}`));
    if (child.pid === undefined) throw new Error(`QEMU of ${this.name} did not start`);
    return child.pid;
  }

  private assertRunning(): void {
    if (this.exit) throw new Error(this.exit);
    if (this.abandoned) throw new Error(`${this.name}: the VM run is being torn down`);
  }

  private abandoned = false;

  /** Makes every wait on this VM give up at its next step (the run is being torn down). */
  abandon(): void {
    this.abandoned = true;
  }

  exec(script: string, timeoutMs?: number) {
    this.assertRunning();
    return this.agent.exec(script, timeoutMs);
  }

  check(script: string, timeoutMs?: number) {
    this.assertRunning();
    return this.agent.check(script, timeoutMs);
  }

  /** The guest kernel's boot id (changes with every boot). */
  async bootId(): Promise<string> {
    return (await this.check("cat /proc/sys/kernel/random/boot_id")).trim();
  }

  /**
   * Waits until cloud-init has finished (result.json is written at the end of
   * its final stage), then returns `cloud-init status` and when the finish
   * was first seen, in seconds since `since`. Asking the guest costs emulated
   * CPU that the boot itself needs (every `test -e` is a bash started by the
   * guest agent; `cloud-init status` is a Python start, seconds each time), so
   * it mostly watches the serial console on the host instead: the guest asks
   * right away, then when the console shows cloud-init's "finished at" line,
   * and every `pollMs` in case the line was missed.
   */
  async waitForCloudInit(timeoutMs: number, since = this.startedAt, pollMs = 15_000): Promise<{ status: CloudInitStatus; seconds: number }> {
    const deadline = Date.now() + timeoutMs;
    const serial = new ConsoleWatch(this.serialLog, /Cloud-init v\. \S+ finished at /);
    let last = "no answer from the guest agent yet";
    let askedAt = 0;
    let finishSeenAt = 0;
    for (let attempt = 0; attempt < Math.ceil(timeoutMs / 1000) + 1 && Date.now() < deadline; attempt++) {
      this.assertRunning();
      if (serial.newMatches() > 0) finishSeenAt = Date.now();
      // Right after the console line, ask every second for a little while (result.json comes just after it).
      const ask = askedAt === 0 || Date.now() - askedAt >= pollMs || Date.now() - finishSeenAt < 20_000;
      if (ask) {
        askedAt = Date.now();
        if (await this.agent.ping(3000)) {
          last = "cloud-init still running";
          const finished = await this.agent.exec("test -e /run/cloud-init/result.json", 10_000).catch(() => undefined);
          if (finished?.code === 0) {
            const seconds = (Date.now() - since) / 1000;
            const r = await this.agent.exec("cloud-init status", 60_000);
            const status = /^status:\s*(.+)$/m.exec(r.stdout)?.[1]?.trim();
            if (!status) throw new Error(`${this.name}: cannot read 'cloud-init status': ${r.stdout} ${r.stderr}`);
            return { status, seconds };
          }
        }
      }
      await sleep(1000);
    }
    throw new Error(`${this.name}: cloud-init not finished after ${timeoutMs / 1000} s (${last}); serial console: ${this.serialLog}`);
  }

  /** Reboots the guest from inside and waits (bounded) until the agent answers with a new boot id. */
  async reboot(timeoutMs: number): Promise<number> {
    const before = await this.bootId();
    const started = Date.now();
    // Detached, so guest-exec returns before systemd tears the agent down.
    await this.check("setsid sh -c 'sleep 1; systemctl reboot' </dev/null >/dev/null 2>&1 &");
    const deadline = started + timeoutMs;
    for (let attempt = 0; attempt < Math.ceil(timeoutMs / 2000) + 1 && Date.now() < deadline; attempt++) {
      this.assertRunning();
      await sleep(2000);
      if (!(await this.agent.ping(3000))) continue;
      const now = await this.bootId().catch(() => before);
      if (now !== before) return (Date.now() - started) / 1000;
    }
    throw new Error(`${this.name}: no new boot within ${timeoutMs / 1000} s of the reboot; serial console: ${this.serialLog}`);
  }

  /**
   * Shuts the guest down from inside, as EC2 does at a termination (systemd
   * stops every unit, ExecStop= steps included), and waits (bounded) until
   * QEMU has exited. Returns the seconds it took.
   */
  async poweroff(timeoutMs: number): Promise<number> {
    const child = this.process;
    if (!child) throw new Error(`${this.name}: not started`);
    const started = Date.now();
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    // Detached, so guest-exec returns before systemd tears the agent down.
    await this.check("setsid sh -c 'sleep 1; systemctl poweroff' </dev/null >/dev/null 2>&1 &");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)))]);
    clearTimeout(timer);
    if (timedOut) throw new Error(`${this.name}: QEMU still runs ${timeoutMs / 1000} s after the poweroff; serial console: ${this.serialLog}`);
    return (Date.now() - started) / 1000;
  }

  /** Copies the guest's logs into `dir` (each bounded; a guest that does not answer leaves a note). */
  async collectLogs(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    const files: Record<string, string> = {
      "cloud-init.log": "cat /var/log/cloud-init.log",
      "cloud-init-output.log": "cat /var/log/cloud-init-output.log",
      "cloud-init-status.txt": "cloud-init status --long",
      "journal.txt": "journalctl -b --no-pager -o short-precise | tail -n 5000",
      "redis-server.log": "cat /var/log/redis/redis-server.log",
      "redis-sentinel.log": "cat /var/log/redis/redis-sentinel.log",
      "systemctl-failed.txt": "systemctl --failed --no-pager; systemctl status redis-server redis-sentinel --no-pager",
      "data-volume.txt": "ls -l /dev/disk/by-id; lsblk -f; cat /etc/fstab; findmnt /var/lib/redis; ls -la /var/lib/redis",
    };
    if (this.exit || !(await this.agent.ping(3000))) {
      fs.writeFileSync(path.join(dir, "guest-logs-missing.txt"), `${this.exit ?? "the guest agent did not answer"}: only the serial console is available\n`);
      return;
    }
    for (const [file, script] of Object.entries(files)) {
      const r = await this.agent.exec(script, 20_000).catch((e: Error) => ({ code: -1, stdout: "", stderr: e.message }));
      fs.writeFileSync(path.join(dir, file), r.stdout + (r.code === 0 ? "" : `\n[exit ${r.code}] ${r.stderr}`));
    }
  }

  /** Stops QEMU: SIGTERM, then SIGKILL after a bounded wait. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const within = async (ms: number) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
      const result = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      return result !== "timeout";
    };
    child.kill("SIGTERM");
    if (!(await within(5000))) {
      child.kill("SIGKILL");
      if (!(await within(5000))) throw new Error(`QEMU of ${this.name} (pid ${child.pid}) survived SIGKILL for 5 s`);
    }
  }

  /** SIGKILL now, for process exit handlers. */
  killSync(): void {
    const child = this.process;
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
