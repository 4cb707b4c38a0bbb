import { BootPart } from "../boot-part";
import { partStepPath } from "../cloud-config";
import { REDIS_PATHS } from "../render/redis-conf";

const STEP = "data-volume.sh";
export const DATA_VOLUME_DROP_IN = "/etc/systemd/system/redis-server.service.d/30-data-volume.conf";
/** Instance store: the unit that formats (when blank) and mounts the disk before every start of redis-server. */
export const INSTANCE_STORE_UNIT = "redis-data-volume.service";

/**
 * systemd drop-in for redis-server. EBS: the fstab line of the data volume
 * has `nofail` (a node whose volume is missing still boots, and Session
 * Manager still reaches it), so the unit itself must wait for the mount and
 * fail without it, or Redis would start on the empty directory of the root
 * disk. Instance store: the unit requires the one that mounts the disk.
 */
export function renderDataVolumeDropIn(dataDir: string, instanceStore = false): string {
  const unit = instanceStore ? [`Requires=${INSTANCE_STORE_UNIT}`, `After=${INSTANCE_STORE_UNIT}`] : [`RequiresMountsFor=${dataDir}`];
  return ["# Written by cloud-init: no Redis without its data volume.", "[Unit]", ...unit, ""].join("\n");
}

/**
 * The instance store's unit: the disk is blank again after every stop and
 * start, so the step runs before every start of redis-server (formatting
 * only a blank disk), not only at the instance's first boot. redis-sentinel
 * starts after it too (ordering only: a sentinel runs without the disk), as
 * its working directory is the data directory: started first, it would hold
 * the root disk's directory under the mount.
 */
export function renderInstanceStoreUnit(): string {
  return [
    "# Written by cloud-init: the instance-store disk, formatted when blank, mounted at Redis' data directory.",
    "[Unit]",
    "Description=Redis data on the instance store",
    "Before=redis-server.service redis-sentinel.service",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    `ExecStart=${partStepPath({ step: STEP })} prepare`,
    "",
  ].join("\n");
}

/** The EBS volume id (`vol-...`, usually a Terraform reference), or the instance store. */
export type DataVolumePartOptions = { readonly volumeId: string } | { readonly instanceStore: true };

/**
 * The data disk: found at boot by its NVMe serial (an EBS volume's id, or an
 * instance-store disk's AWS...), formatted (XFS) only when blank, mounted at
 * Redis' data directory (where redis.conf's `dir` puts the RDB and AOF
 * files) before redis-server starts. It needs no IAM statement: the node
 * finds the disk on its own bus.
 */
export function dataVolumePart(options: DataVolumePartOptions): BootPart {
  const dataDir = REDIS_PATHS.dataDir;
  const instanceStore = "instanceStore" in options;
  return {
    name: "data-volume",
    order: 28,
    packages: ["xfsprogs"],
    files: [
      { path: DATA_VOLUME_DROP_IN, permissions: "0644", content: renderDataVolumeDropIn(dataDir, instanceStore) },
      ...(instanceStore ? [{ path: `/etc/systemd/system/${INSTANCE_STORE_UNIT}`, permissions: "0644", content: renderInstanceStoreUnit() }] : []),
    ],
    env: instanceStore ? { DATA_INSTANCE_STORE: "1", DATA_DIR: dataDir } : { DATA_VOLUME_ID: options.volumeId, DATA_DIR: dataDir },
    step: STEP,
  };
}
