// The exporter's unit as a node gets it: the packaged unit with the
// synthesized drop-in, checked by systemd itself (systemd-analyze verify:
// every key known, the specifiers and the binary valid).
import { spawnSync } from "child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { basename, dirname, join } from "path";
import { RedisReplicationGroup, RedisReplicationGroupProps } from "../../lib";
import { EXPORTER_DROP_IN, EXPORTER_UNIT } from "../../lib/boot";
import { cloudConfigFiles, newStack, renderTerraformTemplate, synthJson, testNeeding, userDataOf } from "../helpers";

const PACKAGED_UNIT = `/lib/systemd/system/${EXPORTER_UNIT}`;
const withSystemd = testNeeding(["systemd-analyze", { command: "prometheus-redis-exporter", args: ["-version"] }]);

describe("the exporter's unit with the synthesized drop-in", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const cases: Array<[string, Partial<RedisReplicationGroupProps>]> = [
    ["TLS on", {}],
    ["TLS off", { tls: { enabled: false } }],
  ];
  for (const [name, props] of cases) withSystemd(`${name}: systemd-analyze verify finds nothing to say`, () => {
    const stack = newStack();
    new RedisReplicationGroup(stack, "redis", { vpcId: "vpc-1", subnetIds: ["subnet-a"], monitoring: { enabled: true }, ...props });
    const dropIn = renderTerraformTemplate(cloudConfigFiles(userDataOf(synthJson(stack))["redis/master"])[EXPORTER_DROP_IN]);
    const dir = mkdtempSync(join(tmpdir(), "exporter-unit-"));
    dirs.push(dir);
    copyFileSync(PACKAGED_UNIT, join(dir, EXPORTER_UNIT));
    mkdirSync(join(dir, basename(dirname(EXPORTER_DROP_IN))));
    writeFileSync(join(dir, basename(dirname(EXPORTER_DROP_IN)), basename(EXPORTER_DROP_IN)), dropIn);
    const r = spawnSync("systemd-analyze", ["verify", join(dir, EXPORTER_UNIT)], { encoding: "utf8", env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } });
    expect({ status: r.status, output: `${r.stdout}${r.stderr}` }).toEqual({ status: 0, output: "" });
  });
});
