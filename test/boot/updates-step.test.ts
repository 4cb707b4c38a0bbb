// The updates boot step as shipped, run in a directory of the test's own:
// the policy-rc.d it writes answers as Debian's maintainer scripts ask it
// (the real invoke-rc.d and deb-systemd-invoke, pointed at it through
// DPKG_ROOT, with a systemctl stand-in on PATH so nothing on the host is
// started or stopped), apt parses its configuration, and perl reads its
// needrestart drop-in the way needrestart does.
import { spawnSync, SpawnSyncReturns } from "child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { missingTools, testNeeding, testUnlessMissing } from "../helpers";

const STEP = resolve(__dirname, "../../lib/boot/parts/assets/updates.sh");
const BOOT_LIB = resolve(__dirname, "../../lib/boot/assets");
/** What the step runs, linked into a PATH of its own so that whether unattended-upgrade is there is the test's choice. */
const STEP_TOOLS = [
  "bash",
  "cat",
  "grep",
  "mv",
  "chmod",
  "mkdir",
  "dirname",
  "sh",
];

/** A root of the test's own: usr/sbin/policy-rc.d (DPKG_ROOT), apt and needrestart dirs, a PATH. */
class Root {
  readonly dir = mkdtempSync(join(tmpdir(), "updates-step-"));
  readonly policy = join(this.dir, "usr/sbin/policy-rc.d");
  readonly aptDir = join(this.dir, "etc/apt/apt.conf.d");
  readonly needrestartDir = join(this.dir, "etc/needrestart/conf.d");
  readonly bin = join(this.dir, "bin");
  readonly systemctlLog = join(this.dir, "systemctl.log");
  readonly loggerLog = join(this.dir, "logger.log");

  constructor() {
    mkdirSync(join(this.dir, "usr/sbin"), { recursive: true });
    mkdirSync(this.bin);
    for (const tool of STEP_TOOLS) {
      const path = spawnSync("bash", ["-c", `command -v ${tool}`], {
        encoding: "utf8",
      }).stdout.trim();
      symlinkSync(path, join(this.bin, tool));
    }
    writeFileSync(
      join(this.bin, "logger"),
      `#!/bin/sh\necho "$*" >>'${this.loggerLog}'\n`,
      { mode: 0o755 }
    );
    writeFileSync(
      join(this.bin, "systemctl"),
      `#!/bin/sh\necho "$*" >>'${this.systemctlLog}'\n`,
      { mode: 0o755 }
    );
  }

  /** Puts an unattended-upgrade command on the step's PATH. */
  withUnattendedUpgrades(): this {
    writeFileSync(join(this.bin, "unattended-upgrade"), "#!/bin/sh\nexit 0\n", {
      mode: 0o755,
    });
    return this;
  }

  run(phase: string): SpawnSyncReturns<string> {
    return spawnSync(join(this.bin, "bash"), [STEP, phase], {
      encoding: "utf8",
      timeout: 30_000,
      env: {
        PATH: this.bin,
        REDIS_NODE_LIB: BOOT_LIB,
        REDIS_NODE_POLICY_RC_D: this.policy,
        REDIS_NODE_APT_CONF_DIR: this.aptDir,
        REDIS_NODE_NEEDRESTART_CONF_DIR: this.needrestartDir,
      },
    });
  }

  /** Runs the step's prepare and fails the test when it fails. */
  prepare(): SpawnSyncReturns<string> {
    const r = this.run("prepare");
    if (r.status !== 0)
      throw new Error(`updates.sh prepare: exit ${r.status}: ${r.stderr}`);
    return r;
  }

  /** The exit code of the policy, asked as a maintainer script's helper asks it. */
  ask(...args: string[]): number | null {
    return spawnSync(this.policy, args, { encoding: "utf8", timeout: 10_000 })
      .status;
  }

  systemctlCalls(): string[] {
    return existsSync(this.systemctlLog)
      ? readFileSync(this.systemctlLog, "utf8").trim().split("\n")
      : [];
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const roots: Root[] = [];
function newRoot(): Root {
  const root = new Root();
  roots.push(root);
  return root;
}
afterEach(() => {
  for (const r of roots.splice(0)) r.cleanup();
});

const FORBIDDEN = 101;
const ALLOWED = 0;

describe("policy-rc.d: package upgrades never start, stop or restart Redis or Sentinel", () => {
  test.each([
    // deb-systemd-invoke: <unit> <action>
    [["redis-server.service", "restart"], FORBIDDEN],
    [["redis-sentinel.service", "start"], FORBIDDEN],
    [["redis-server.service", "stop"], FORBIDDEN],
    [["redis-sentinel.service", "try-restart"], FORBIDDEN],
    [["redis-server@main.service", "restart"], FORBIDDEN],
    // invoke-rc.d: [options] <id> <actions> [<runlevel>]
    [["redis-server", "restart"], FORBIDDEN],
    [["redis-sentinel", "reload"], FORBIDDEN],
    [["redis-server", "force-reload"], FORBIDDEN],
    [["--quiet", "redis-sentinel", "restart", "2"], FORBIDDEN],
    [["redis-server", "restart start"], FORBIDDEN], // a fallback list
    [["redis-server", "(restart)"], FORBIDDEN], // out of the runlevel
    [["redis", "restart"], FORBIDDEN], // the packages' aliases
    [["redis.service", "start"], FORBIDDEN],
    [["sentinel", "stop"], FORBIDDEN],
    [["sentinel.service", "restart"], FORBIDDEN],
    // what stays allowed
    [["redis-server", "status"], ALLOWED],
    [["redis-server", "(status)"], ALLOWED],
    [["cron", "restart"], ALLOWED],
    [["ssh.service", "restart"], ALLOWED],
    [["prometheus-redis-exporter.service", "restart"], ALLOWED],
    [["redis-node-setup.service", "start"], ALLOWED],
    [["unattended-upgrades.service", "start"], ALLOWED],
  ])("policy-rc.d %j -> %i", (args, expected) => {
    const root = newRoot();
    root.prepare();
    expect(root.ask(...(args as string[]))).toBe(expected);
  });

  test("is executable by root only to write, by everyone to run", () => {
    const root = newRoot();
    root.prepare();
    expect(statSync(root.policy).mode & 0o777).toBe(0o755);
  });

  // Debian's helpers (init-system-helpers), and init scripts for the queries.
  const helpersMissing = [
    ...missingTools([{ command: "invoke-rc.d", args: ["--help"] }]),
    ...[
      "/usr/bin/deb-systemd-invoke",
      "/etc/init.d/redis-server",
      "/etc/init.d/dbus",
    ].filter((p) => !existsSync(p)),
  ];
  const realHelpers = testUnlessMissing(
    helpersMissing.length > 0
      ? `${helpersMissing.join(
          ", "
        )} (apt-get install init-system-helpers redis-server dbus)`
      : undefined
  );

  realHelpers(
    "invoke-rc.d --query (the real one, DPKG_ROOT at the test's root) is refused Redis and Sentinel, allowed others",
    () => {
      const root = newRoot();
      root.prepare();
      const query = (...args: string[]) =>
        spawnSync("invoke-rc.d", ["--query", ...args], {
          env: { ...process.env, DPKG_ROOT: root.dir },
          encoding: "utf8",
          timeout: 10_000,
        }).status;
      // invoke-rc.d --query: 101 = do not run, 104 = run.
      expect(query("redis-server", "restart")).toBe(101);
      expect(query("redis-sentinel", "start")).toBe(101);
      expect(query("redis-server", "stop")).toBe(101);
      expect(query("dbus", "restart")).toBe(104);
    }
  );

  realHelpers(
    "deb-systemd-invoke (the real one) never calls systemctl for Redis, and does for other units",
    () => {
      const root = newRoot();
      root.prepare();
      const invoke = (...args: string[]) =>
        spawnSync("deb-systemd-invoke", args, {
          env: {
            ...process.env,
            DPKG_ROOT: root.dir,
            PATH: `${root.bin}:${process.env.PATH}`,
          },
          encoding: "utf8",
          timeout: 10_000,
        });
      const refused = invoke(
        "restart",
        "redis-server.service",
        "redis-sentinel.service"
      );
      expect(refused.status).toBe(0);
      expect(refused.stderr).toContain("returned 101, not running");
      expect(root.systemctlCalls().filter((c) => c.includes("redis"))).toEqual(
        []
      );
      invoke("restart", "cron.service");
      expect(root.systemctlCalls().filter((c) => / restart cron\.service$/.test(c))).toHaveLength(1);
      expect(root.systemctlCalls().filter((c) => c.includes("redis"))).toEqual(
        []
      );
    }
  );
});

describe("an image that has a policy-rc.d of its own", () => {
  test("keeps its say over every other service; Redis and Sentinel are refused even if it allowed them", () => {
    const root = newRoot();
    // The image's policy: refuse cron, allow everything else.
    writeFileSync(
      root.policy,
      '#!/bin/sh\n[ "$1" = cron ] && exit 101\nexit 0\n',
      { mode: 0o755 }
    );
    const r = root.prepare();
    expect(r.stderr).toContain(
      `the image's ${root.policy} moved to ${root.policy}.before-redis-node`
    );
    expect(root.ask("cron", "restart")).toBe(FORBIDDEN);
    expect(root.ask("ssh", "restart")).toBe(ALLOWED);
    expect(root.ask("redis-server", "restart")).toBe(FORBIDDEN);
  });

  test("a second run keeps ours and the image's (it does not chain ours to itself)", () => {
    const root = newRoot();
    writeFileSync(
      root.policy,
      '#!/bin/sh\n[ "$1" = cron ] && exit 101\nexit 0\n',
      { mode: 0o755 }
    );
    root.prepare();
    const second = root.prepare();
    expect(second.stderr).not.toContain("moved to");
    expect(readFileSync(`${root.policy}.before-redis-node`, "utf8")).toContain(
      "cron"
    );
    expect(root.ask("cron", "restart")).toBe(FORBIDDEN);
    expect(root.ask("ssh", "restart")).toBe(ALLOWED);
    expect(root.ask("redis-sentinel", "start")).toBe(FORBIDDEN);
  });
});

describe("unattended-upgrades and needrestart settings", () => {
  testNeeding([{ command: "apt-config", args: ["--version"] }])(
    "apt reads daily lists and upgrades, and no automatic reboot",
    () => {
      const root = newRoot();
      root.prepare();
      const dump = spawnSync(
        "apt-config",
        ["-c", join(root.aptDir, "52redis-node-updates"), "dump"],
        { encoding: "utf8" }
      );
      expect(dump.status).toBe(0);
      expect(dump.stdout).toContain('APT::Periodic::Update-Package-Lists "1";');
      expect(dump.stdout).toContain('APT::Periodic::Unattended-Upgrade "1";');
      expect(dump.stdout).toContain(
        'Unattended-Upgrade::Automatic-Reboot "false";'
      );
    }
  );

  testNeeding([{ command: "perl", args: ["-v"] }])(
    "needrestart's override_rc leaves redis-server and redis-sentinel alone, and only them",
    () => {
      const root = newRoot();
      root.prepare();
      // needrestart reads conf.d files with `do` and matches unit names against override_rc's keys.
      const read = spawnSync(
        "perl",
        [
          "-e",
          'our %nrconf; do $ARGV[0]; die $@ if $@; for my $u (@ARGV[1..$#ARGV]) { my @v = map { $nrconf{override_rc}{$_} } grep { $u =~ /$_/ } keys %{$nrconf{override_rc}}; print "$u=", (@v ? join(",", @v) : "-"), "\\n" }',
          join(root.needrestartDir, "redis-node.conf"),
          "redis-server.service",
          "redis-sentinel.service",
          "redis-server@x.service",
          "cron.service",
          "prometheus-redis-exporter.service",
        ],
        { encoding: "utf8" }
      );
      expect(read.status).toBe(0);
      expect(read.stdout.trim().split("\n")).toEqual([
        "redis-server.service=0",
        "redis-sentinel.service=0",
        "redis-server@x.service=0",
        "cron.service=-",
        "prometheus-redis-exporter.service=-",
      ]);
    }
  );

  test("without unattended-upgrades the step says so clearly (and in the journal) and does not fail the boot", () => {
    const root = newRoot();
    const r = root.prepare();
    expect(r.stderr).toContain(
      "WARNING: unattended-upgrades is not installed, so security updates are NOT installed automatically"
    );
    expect(readFileSync(root.loggerLog, "utf8")).toContain(
      "unattended-upgrades is not installed"
    );
    expect(existsSync(root.policy)).toBe(true);
  });

  test("with unattended-upgrades it says that updates install and never restart Redis", () => {
    const root = newRoot().withUnattendedUpgrades();
    const r = root.prepare();
    expect(r.stderr).not.toContain("WARNING");
    expect(r.stderr).toContain(
      "unattended-upgrades installs security updates daily"
    );
  });

  test("check and start change nothing", () => {
    const root = newRoot();
    for (const phase of ["check", "start"])
      expect(root.run(phase).status).toBe(0);
    expect(existsSync(root.policy)).toBe(false);
    expect(existsSync(root.aptDir)).toBe(false);
  });
});
