import { BootPart } from "../boot-part";
import { REDIS_PATHS } from "../render/redis-conf";

export const DATA_VOLUME_DROP_IN = "/etc/systemd/system/redis-server.service.d/30-data-volume.conf";

/**
 * systemd drop-in for redis-server: the fstab line of the data volume has
 * `nofail` (a node whose volume is missing still boots, and Session Manager
 * still reaches it), so the unit itself must wait for the mount and fail
 * without it, or Redis would start on the empty directory of the root disk.
 */
export function renderDataVolumeDropIn(dataDir: string): string {
  return ["# Written by cloud-init: no Redis without its data volume.", "[Unit]", `RequiresMountsFor=${dataDir}`, ""].join("\n");
}

export interface DataVolumePartOptions {
  /** The EBS volume id (`vol-...`), usually a Terraform reference. */
  readonly volumeId: string;
}

/**
 * The data volume: found at boot by its id in the NVMe serial, formatted
 * (XFS) only when blank, mounted by UUID at Redis' data directory (where
 * redis.conf's `dir` puts the RDB and AOF files) before redis-server starts.
 * It needs no IAM statement: the node finds the volume on its own bus.
 */
export function dataVolumePart(options: DataVolumePartOptions): BootPart {
  return {
    name: "data-volume",
    order: 28,
    packages: ["xfsprogs"],
    files: [{ path: DATA_VOLUME_DROP_IN, permissions: "0644", content: renderDataVolumeDropIn(REDIS_PATHS.dataDir) }],
    env: { DATA_VOLUME_ID: options.volumeId, DATA_DIR: REDIS_PATHS.dataDir },
    step: "data-volume.sh",
  };
}
