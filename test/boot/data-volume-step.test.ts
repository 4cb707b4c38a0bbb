// The data-volume boot step, run for real (as root) on loop devices that
// stand in for EBS volumes: /dev/disk/by-id links named as udev names EBS
// NVMe disks point at them, the fstab is a file of the test's own, and
// systemctl is a stand-in that records its calls. What runs is the step as
// shipped: blkid, mkfs.xfs, mount -T and findmnt on real block devices.
import { spawnSync, SpawnSyncReturns } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { dataVolumePart, DataVolumePartOptions, renderNodeEnv } from "../../lib/boot";
import { missingTools, testUnlessMissing } from "../helpers";

const STEP = resolve(__dirname, "../../lib/boot/parts/assets/data-volume.sh");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
const VOLUME = "vol-0123456789abcdef0";
const OTHER_VOLUME = "vol-0fedcba9876543210";
const FSTAB_OPTIONS = "defaults,noatime,nofail,x-systemd.device-timeout=90s";
const GENERATOR = "/usr/lib/systemd/system-generators/systemd-fstab-generator";

const missing = [
  ...missingTools(["losetup", "blkid", "findmnt", "sfdisk", { command: "mkfs.xfs", args: ["-V"] }]),
  ...(process.getuid?.() === 0 ? [] : ["root (loop devices, mount)"]),
  ...(spawnSync("id", ["redis"]).status === 0 ? [] : ["the redis user (apt-get install redis-server)"]),
  ...(existsSync("/dev/loop-control") ? [] : ["loop devices (/dev/loop-control)"]),
];
const it = testUnlessMissing(missing.length > 0 ? missing.join(", ") : undefined);

/** Runs a command, failing the test with its output when it fails. */
function sh(command: string, ...args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")}: exit ${r.status}: ${r.stderr}${r.error ?? ""}`);
  return r.stdout.trim();
}

/** What blkid finds on a device: {} for nothing at all. */
function probe(device: string): Record<string, string> {
  const r = spawnSync("blkid", ["-p", "-o", "export", device], { encoding: "utf8" });
  if (r.status === 2) return {};
  if (r.status !== 0) throw new Error(`blkid ${device}: exit ${r.status}: ${r.stderr}`);
  return Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));
}

/** One node's worth of disks, links, fstab and data directory, removed by cleanup(). */
class Scene {
  readonly dir = mkdtempSync(join(tmpdir(), "data-volume-step-"));
  readonly byId = join(this.dir, "by-id");
  readonly fstab = join(this.dir, "fstab");
  readonly dataDir = join(this.dir, "var-lib-redis");
  readonly systemctlLog = join(this.dir, "systemctl.log");
  private readonly env = join(this.dir, "node.env");
  private readonly stubs = join(this.dir, "bin");
  private readonly devices: string[] = [];

  constructor(options: DataVolumePartOptions = { volumeId: VOLUME }) {
    mkdirSync(this.byId);
    mkdirSync(this.stubs);
    writeFileSync(join(this.stubs, "systemctl"), `#!/bin/sh\necho "$*" >>'${this.systemctlLog}'\n`, { mode: 0o755 });
    writeFileSync(this.fstab, "# /etc/fstab of a fresh root volume\nLABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n");
    // The part's own variables, with the data directory moved into the test's.
    const part = dataVolumePart(options);
    writeFileSync(this.env, renderNodeEnv([{ ...part, env: { ...part.env, DATA_DIR: this.dataDir } }]));
  }

  /** A blank 512 MiB disk (sparse) on a loop device. */
  disk(): string {
    const file = join(this.dir, `disk-${this.devices.length}.img`);
    writeFileSync(file, "");
    sh("truncate", "-s", "512M", file);
    const device = sh("losetup", "--find", "--show", file);
    this.devices.push(device);
    return device;
  }

  /** The link udev makes for an EBS NVMe disk (model, then the serial: the volume id without its dash). */
  link(volumeId: string, device: string, suffix = ""): void {
    symlinkSync(device, join(this.byId, `nvme-Amazon_Elastic_Block_Store_${volumeId.replace("-", "")}${suffix}`));
  }

  /** The link udev makes for an instance-store NVMe disk (serial AWS + 17 characters). */
  storeLink(serial: string, device: string, suffix = ""): void {
    symlinkSync(device, join(this.byId, `nvme-Amazon_EC2_NVMe_Instance_Storage_${serial}${suffix}`));
  }

  /** Runs `data-volume.sh <phase>` as the entry script would; `before` runs first, in the background. */
  run(phase: string, options: { waitSeconds?: number; before?: string; path?: string } = {}): SpawnSyncReturns<string> {
    const script = `${options.before ? `(${options.before}) & ` : ""}exec bash "$0" "$1"`;
    return spawnSync("bash", ["-c", script, STEP, phase], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        PATH: `${this.stubs}:${options.path ?? process.env.PATH}`,
        REDIS_NODE_LIB: BOOT_LIB,
        REDIS_NODE_ENV: this.env,
        REDIS_NODE_BY_ID: this.byId,
        REDIS_NODE_FSTAB: this.fstab,
        REDIS_NODE_VOLUME_WAIT: String(options.waitSeconds ?? 300),
      },
    });
  }

  /** The device mounted at the data directory, or "" when nothing is. */
  mountedDevice(): string {
    return spawnSync("findmnt", ["-n", "-o", "SOURCE", "-M", this.dataDir], { encoding: "utf8" }).stdout.trim();
  }

  unmount(): void {
    if (this.mountedDevice() !== "") sh("umount", this.dataDir);
  }

  cleanup(): void {
    for (let i = 0; i < 5 && this.mountedDevice() !== ""; i++) spawnSync("umount", ["-l", this.dataDir]);
    for (const device of this.devices) spawnSync("losetup", ["-d", device]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const ownerAndMode = (path: string) => `${sh("stat", "-c", "%U:%G", path)} ${(statSync(path).mode & 0o777).toString(8)}`;
const fstabLine = (uuid: string, dir: string) => `UUID=${uuid} ${dir} xfs ${FSTAB_OPTIONS} 0 0`;

describe("the data-volume boot step on loop devices", () => {
  const scenes: Scene[] = [];
  const scene = (options?: DataVolumePartOptions) => {
    const s = new Scene(options);
    scenes.push(s);
    return s;
  };
  afterEach(() => {
    for (const s of scenes.splice(0)) s.cleanup();
  });

  it("waits for the volume to appear, formats it (XFS) only because it is blank, mounts it by UUID with nofail, hands it to redis", () => {
    const s = scene();
    const device = s.disk();
    const fstabBefore = readFileSync(s.fstab, "utf8");
    // Attached a few seconds into the boot, as Terraform does once the instance runs.
    const r = s.run("prepare", { before: `sleep 3; ln -s ${device} '${s.byId}/nvme-Amazon_Elastic_Block_Store_${VOLUME.replace("-", "")}'` });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    expect(r.stderr).toContain(`redis-node-setup: waiting for data volume ${VOLUME}: 0 s of 300 s\n`);
    expect(r.stderr).toContain(`redis-node-setup: ${device} (${VOLUME}) is blank: formatting it (XFS)\n`);
    const fs = probe(device);
    expect(fs).toMatchObject({ TYPE: "xfs", LABEL: "redis-data", UUID: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(readFileSync(s.fstab, "utf8")).toBe(`${fstabBefore}${fstabLine(fs.UUID, s.dataDir)}\n`);
    expect(s.mountedDevice()).toBe(device);
    expect(ownerAndMode(s.dataDir)).toBe("redis:redis 750");
    // systemd reads the fstab line at the boot's one reload, before the start steps (boot-phases.test.ts).
    expect(existsSync(s.systemctlLog)).toBe(false);
    expect(r.stderr).toContain(`redis-node-setup: ${VOLUME} (${device}, UUID=${fs.UUID}) mounted at ${s.dataDir}\n`);
  }, 60_000);

  it("run again, and on a replaced instance (a fresh fstab), it keeps the file system and the data: no second mkfs", () => {
    const s = scene();
    const device = s.disk();
    s.link(VOLUME, device);
    expect(s.run("prepare").status).toBe(0);
    const uuid = probe(device).UUID;
    writeFileSync(join(s.dataDir, "dump.rdb"), "REDIS0011 the dataset");
    const fstab = readFileSync(s.fstab, "utf8");

    const again = s.run("prepare");
    expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: expect.stringContaining("has an XFS file system: keeping its data") });
    expect(again.stderr).not.toContain("formatting");
    expect(readFileSync(s.fstab, "utf8")).toBe(fstab);
    expect(probe(device).UUID).toBe(uuid);
    expect(readFileSync(join(s.dataDir, "dump.rdb"), "utf8")).toBe("REDIS0011 the dataset");

    // The replaced instance: a new root volume (fstab without the line), the volume's files of another uid.
    sh("chown", "4242:4242", join(s.dataDir, "dump.rdb"));
    s.unmount();
    writeFileSync(s.fstab, "# a new root volume\n");
    const replaced = s.run("prepare");
    expect(replaced.status).toBe(0);
    expect(replaced.stderr).not.toContain("formatting");
    expect(readFileSync(s.fstab, "utf8")).toBe(`# a new root volume\n${fstabLine(uuid, s.dataDir)}\n`);
    expect(s.mountedDevice()).toBe(device);
    expect(readFileSync(join(s.dataDir, "dump.rdb"), "utf8")).toBe("REDIS0011 the dataset");
    expect(ownerAndMode(join(s.dataDir, "dump.rdb"))).toMatch(/^redis:redis /);
  }, 60_000);

  it("the fstab line mounts the volume by itself (later boots), and systemd makes of it a mount that the boot only wants", () => {
    const s = scene();
    const device = s.disk();
    s.link(VOLUME, device);
    expect(s.run("prepare").status).toBe(0);
    const uuid = probe(device).UUID;
    s.unmount();
    // mount(8) from the line alone, as at a later boot: by UUID, not by the device's name.
    sh("mount", "-T", s.fstab, s.dataDir);
    expect(s.mountedDevice()).toBe(device);
    if (!existsSync(GENERATOR)) return;
    const out = join(s.dir, "generated");
    for (const d of ["", ".early", ".late"]) mkdirSync(out + d);
    const gen = spawnSync(GENERATOR, [out, `${out}.early`, `${out}.late`], { encoding: "utf8", env: { ...process.env, SYSTEMD_FSTAB: s.fstab } });
    expect({ status: gen.status, stderr: gen.stderr }).toEqual({ status: 0, stderr: "" });
    const unitName = sh("systemd-escape", "--path", "--suffix=mount", s.dataDir);
    const unit = readFileSync(join(out, unitName), "utf8");
    expect(unit).toContain(`What=/dev/disk/by-uuid/${uuid}\n`);
    expect(unit).toContain(`Where=${s.dataDir}\n`);
    expect(unit).toContain("Type=xfs\n");
    // nofail: wanted, not required, and not ordered before local-fs.target: the node boots without the volume.
    expect(readdirSync(join(out, "local-fs.target.wants"))).toContain(unitName);
    // The root file system's line, without nofail, is required: the contrast.
    const required = readdirSync(join(out, "local-fs.target.requires"));
    expect(required).toContain("-.mount");
    expect(required).not.toContain(unitName);
    expect(unit).not.toMatch(/^Before=.*local-fs\.target/m);
    const deviceUnit = `${sh("systemd-escape", "--path", `/dev/disk/by-uuid/${uuid}`)}.device.d`;
    expect(readFileSync(join(out, deviceUnit, "50-device-timeout.conf"), "utf8")).toMatch(/^JobRunningTimeoutSec=90s$/m);
  }, 60_000);

  it("finds its own volume by serial among other NVMe disks, and leaves the others alone", () => {
    const s = scene();
    const other = s.disk();
    const device = s.disk();
    s.link(OTHER_VOLUME, other);
    // udev's link of namespace 1 of another disk: same serial, one more suffix; never matched.
    s.link(VOLUME, other, "_1");
    s.link(VOLUME, device);
    expect(s.run("prepare").status).toBe(0);
    expect(s.mountedDevice()).toBe(device);
    expect(probe(other)).toEqual({});
  }, 60_000);

  const foreign: Array<[string, (device: string) => unknown, string]> = [
    ["an ext4 file system", (d) => sh("mkfs.ext4", "-q", "-F", d), "holds ext4 (blkid exit 0)"],
    ["a partition table", (d) => sh("sh", "-c", `printf 'label: gpt\\n,100M\\n' | sfdisk -q --no-reread ${d}`), "holds something (blkid exit 0)"],
  ];
  for (const [what, make, message] of foreign) {
    it(`refuses a volume that holds ${what}: no mkfs, no mount, no fstab line`, () => {
      const s = scene();
      const device = s.disk();
      make(device);
      const before = probe(device);
      s.link(VOLUME, device);
      const fstab = readFileSync(s.fstab, "utf8");
      const r = s.run("prepare");
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`redis-node-setup: ERROR: ${device} (${VOLUME}) ${message}, not XFS: not formatting it\n`);
      expect(probe(device)).toEqual(before);
      expect(readFileSync(s.fstab, "utf8")).toBe(fstab);
      expect(s.mountedDevice()).toBe("");
    }, 60_000);
  }

  it("gives up after its bounded wait when the volume never appears, with a line per wait step and a clear message", () => {
    const s = scene();
    const r = s.run("prepare", { waitSeconds: 10 });
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n").filter((l) => l.includes("waiting"))).toEqual([
      `redis-node-setup: waiting for data volume ${VOLUME}: 0 s of 10 s`,
      `redis-node-setup: waiting for data volume ${VOLUME}: 5 s of 10 s`,
    ]);
    expect(r.stderr).toContain(`redis-node-setup: ERROR: data volume ${VOLUME} not attached after 10 s: is its aws_volume_attachment created?\n`);
  }, 60_000);

  it("refuses an fstab that mounts something else at the data directory", () => {
    const s = scene();
    s.link(VOLUME, s.disk());
    writeFileSync(s.fstab, `/dev/sdz1 ${s.dataDir} ext4 defaults 0 2\n`);
    const r = s.run("prepare");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`ERROR: ${s.fstab} mounts something else at ${s.dataDir}: /dev/sdz1 ${s.dataDir} ext4 defaults 0 2\n`);
    expect(s.mountedDevice()).toBe("");
  }, 60_000);

  it("check fails before anything changes when xfsprogs is not installed", () => {
    const s = scene();
    const r = s.run("check", { path: "/usr/bin:/bin" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("ERROR: mkfs.xfs is not installed; apt could not install it");
  });

  describe("on the instance store (DATA_INSTANCE_STORE=1)", () => {
    const STORE = "AWS1A2B3C4D5E6F7A8B9";
    const NEW_HOST = "AWS9F8E7D6C5B4A3F2E1";
    const store = () => scene({ instanceStore: true });

    it("finds the disk by its AWS serial among EBS disks (root, other volumes), formats it because it is blank, mounts it without an fstab line", () => {
      const s = store();
      const ebs = s.disk();
      const device = s.disk();
      s.link(VOLUME, ebs);
      s.link(VOLUME, ebs, "-part1");
      s.storeLink(STORE, device);
      // udev's links of the disk's namespace and of a partition: never matched.
      s.storeLink(STORE, ebs, "_1");
      s.storeLink(STORE, ebs, "-part1");
      const fstab = readFileSync(s.fstab, "utf8");
      const r = s.run("prepare");
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.stringContaining(`redis-node-setup: ${device} (instance store) is blank: formatting it (XFS)\n`) });
      expect(r.stderr).not.toContain("disks match");
      expect(probe(device)).toMatchObject({ TYPE: "xfs", LABEL: "redis-data" });
      expect(probe(ebs)).toEqual({});
      expect(s.mountedDevice()).toBe(device);
      expect(readFileSync(s.fstab, "utf8")).toBe(fstab);
      expect(ownerAndMode(s.dataDir)).toBe("redis:redis 750");
      expect(existsSync(s.systemctlLog)).toBe(false);
    }, 60_000);

    it("at a reboot (the unit runs it again): the file system and its data are kept; after a stop and start (a blank disk): formatted again", () => {
      const s = store();
      const device = s.disk();
      s.storeLink(STORE, device);
      expect(s.run("prepare").status).toBe(0);
      const uuid = probe(device).UUID;
      writeFileSync(join(s.dataDir, "dump.rdb"), "REDIS0011 the dataset");
      s.unmount();

      const reboot = s.run("prepare");
      expect({ status: reboot.status, stderr: reboot.stderr }).toEqual({ status: 0, stderr: expect.stringContaining(`${device} (instance store) has an XFS file system: keeping its data`) });
      expect(probe(device).UUID).toBe(uuid);
      expect(readFileSync(join(s.dataDir, "dump.rdb"), "utf8")).toBe("REDIS0011 the dataset");
      // Run again while mounted (the first boot's step, then the unit): nothing changes.
      expect(s.run("prepare").stderr).not.toContain("formatting");

      // Stop and start: another host, a blank disk with another serial.
      s.unmount();
      rmSync(join(s.byId, `nvme-Amazon_EC2_NVMe_Instance_Storage_${STORE}`));
      const blank = s.disk();
      s.storeLink(NEW_HOST, blank);
      const restarted = s.run("prepare");
      expect({ status: restarted.status, stderr: restarted.stderr }).toEqual({ status: 0, stderr: expect.stringContaining(`${blank} (instance store) is blank: formatting it (XFS)`) });
      expect(s.mountedDevice()).toBe(blank);
      expect(readdirSync(s.dataDir)).toEqual([]);
    }, 60_000);

    it("uses the first of several instance-store disks and says so; refuses one that holds something else", () => {
      const s = store();
      const [first, second] = [s.disk(), s.disk()];
      s.storeLink(STORE, first);
      s.storeLink(NEW_HOST, second);
      const r = s.run("prepare");
      expect(r.status).toBe(0);
      expect(r.stderr).toContain(`redis-node-setup: 2 disks match (instance store): using the first, nvme-Amazon_EC2_NVMe_Instance_Storage_${STORE}\n`);
      expect(s.mountedDevice()).toBe(first);
      expect(probe(second)).toEqual({});

      const t = store();
      const ext4 = t.disk();
      sh("mkfs.ext4", "-q", "-F", ext4);
      t.storeLink(STORE, ext4);
      const refused = t.run("prepare");
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(`redis-node-setup: ERROR: ${ext4} (instance store) holds ext4 (blkid exit 0), not XFS: not formatting it\n`);
      expect(t.mountedDevice()).toBe("");
    }, 60_000);

    it("gives up after its bounded wait on a type without an instance store, with a clear message", () => {
      const s = store();
      s.link(VOLUME, s.disk());
      const r = s.run("prepare", { waitSeconds: 5 });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("redis-node-setup: waiting for the instance-store disk: 0 s of 5 s\n");
      expect(r.stderr).toContain("redis-node-setup: ERROR: the instance-store disk not found after 5 s: does the instance type have an NVMe instance store?\n");
    }, 60_000);
  });
});
