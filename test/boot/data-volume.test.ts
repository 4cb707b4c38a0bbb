// The data-volume boot part as the user data carries it: its step, settings
// and redis-server drop-in; the step itself runs in data-volume-step.test.ts.
import { spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import {
  bootLibrary,
  DATA_VOLUME_DROP_IN,
  dataVolumePart,
  INSTANCE_STORE_UNIT,
  partStepPath,
  REDIS_PATHS,
  redisServerPart,
  renderCloudConfig,
  renderRedisConf,
  tlsPart,
  tuningPart,
} from "../../lib/boot";
import { cloudConfigFiles, directiveArgs, nodeEnvVariable, parseCloudConfig, parseRedisConf, redisConfSettings, TEST_LIBRARY, testNeeding } from "../helpers";

const withSystemdAnalyze = testNeeding(["systemd-analyze"]);
const VOLUME = "${aws_ebs_volume.redis_master_data-volume_ebs_0123ABCD.id}";

describe("the data-volume part", () => {
  const part = dataVolumePart({ volumeId: VOLUME });
  const redis = redisServerPart({ conf: redisConfSettings(), applicationUsers: [], sentinelUser: true, minRedisMajor: 7, openFilesLimit: 65535 });
  const tls = tlsPart({
    nodeAddress: "10.0.0.10",
    material: {
      key: { secretId: "/k", secretArn: "arn:k" },
      certificate: { secretId: "/c", secretArn: "arn:c" },
      caCertificate: { secretId: "/ca", secretArn: "arn:ca" },
    },
  });
  const userData = renderCloudConfig([tuningPart({ tcpBacklog: 511 }), tls, part, redis], TEST_LIBRARY);
  const files = cloudConfigFiles(userData);

  test("its step runs after the tls step and before redis-server's, so the volume is mounted before Redis starts", () => {
    expect(nodeEnvVariable(userData, "BOOT_PARTS")).toBe("tuning tls data-volume redis-server");
    expect(partStepPath(part)).toBe("/usr/local/lib/redis-node/parts/data-volume.sh");
    expect(bootLibrary().paths).toContain("parts/data-volume.sh");
    expect(parseCloudConfig(userData).packages).toContain("xfsprogs");
  });

  test("node.env names the volume (a Terraform reference) and the data directory that redis.conf's dir puts RDB and AOF in", () => {
    expect(files["/etc/redis-node/node.env"]).toContain(`DATA_VOLUME_ID='${VOLUME}'\nDATA_DIR='/var/lib/redis'\n`);
    const conf = parseRedisConf(renderRedisConf(redisConfSettings({ appendOnly: true })));
    expect(directiveArgs(conf, "dir")).toEqual([REDIS_PATHS.dataDir]);
    expect(part.env.DATA_DIR).toBe(REDIS_PATHS.dataDir);
    // The RDB file and the AOF are names relative to dir (the AOF in Redis' default appendonlydir under it).
    expect(directiveArgs(conf, "dbfilename")[0]).not.toContain("/");
    expect(directiveArgs(conf, "appendfilename")[0]).not.toContain("/");
    expect(conf.filter((d) => d.name === "appenddirname")).toEqual([]);
  });

  test("redis-server requires the mount: never Redis on the root disk's empty directory", () => {
    expect(DATA_VOLUME_DROP_IN).toMatch(/^\/etc\/systemd\/system\/redis-server\.service\.d\/[\w-]+\.conf$/);
    expect(files[DATA_VOLUME_DROP_IN]).toMatch(/^\[Unit\]\nRequiresMountsFor=\/var\/lib\/redis\n$/m);
    expect(part.bind).toBeUndefined();
    expect(part.services).toBeUndefined();
  });

  withSystemdAnalyze("systemd reads the drop-in without a warning (a misspelt key would be ignored with one)", () => {
    const dir = mkdtempSync(join(tmpdir(), "data-volume-unit-"));
    try {
      mkdirSync(join(dir, "redis-server.service.d"));
      writeFileSync(join(dir, "redis-server.service"), "[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n");
      const verify = (dropIn: string) => {
        writeFileSync(join(dir, "redis-server.service.d", "30-data-volume.conf"), dropIn);
        const r = spawnSync("systemd-analyze", ["verify", "--man=no", join(dir, "redis-server.service")], {
          encoding: "utf8",
          env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
        });
        return `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.includes("30-data-volume.conf"));
      };
      expect(verify(files[DATA_VOLUME_DROP_IN])).toEqual([]);
      expect(verify(files[DATA_VOLUME_DROP_IN].replace("RequiresMountsFor", "RequiresMountFor"))).toEqual([expect.stringContaining("Unknown key")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the data-volume part on the instance store", () => {
  const part = dataVolumePart({ instanceStore: true });
  const files = cloudConfigFiles(renderCloudConfig([part], TEST_LIBRARY));
  const unitPath = `/etc/systemd/system/${INSTANCE_STORE_UNIT}`;

  test("no volume id; a unit runs the step before every start of redis-server, which requires it (the disk is blank after a stop and start)", () => {
    expect(part.env).toEqual({ DATA_INSTANCE_STORE: "1", DATA_DIR: REDIS_PATHS.dataDir });
    expect(files[DATA_VOLUME_DROP_IN]).toMatch(/^\[Unit\]\nRequires=redis-data-volume\.service\nAfter=redis-data-volume\.service\n$/m);
    expect(files[unitPath]).toContain(`ExecStart=${partStepPath(part)} prepare\n`);
    expect(files[unitPath]).toMatch(/^Type=oneshot\nRemainAfterExit=yes$/m);
  });

  withSystemdAnalyze("systemd reads the unit and the drop-in without a warning", () => {
    const dir = mkdtempSync(join(tmpdir(), "instance-store-unit-"));
    try {
      mkdirSync(join(dir, "redis-server.service.d"));
      writeFileSync(join(dir, "redis-server.service"), "[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n");
      writeFileSync(join(dir, "redis-server.service.d", "30-data-volume.conf"), files[DATA_VOLUME_DROP_IN]);
      // The step's path as on the node: a stand-in executable of the same name in the test's directory.
      const step = join(dir, "data-volume.sh");
      writeFileSync(step, "#!/bin/sh\n", { mode: 0o755 });
      writeFileSync(join(dir, INSTANCE_STORE_UNIT), files[unitPath].replace(partStepPath(part), step));
      const r = spawnSync("systemd-analyze", ["verify", "--man=no", join(dir, "redis-server.service"), join(dir, INSTANCE_STORE_UNIT)], {
        encoding: "utf8",
        env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
      });
      expect(`${r.stdout}${r.stderr}`.split("\n").filter((l) => l.includes(dir))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
