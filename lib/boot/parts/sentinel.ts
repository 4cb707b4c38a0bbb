import { BootPart } from "../boot-part";
import { TEMPLATE_DIR } from "../cloud-config";
import { hardeningDropInPath, renderHardeningDropIn } from "./redis-server";
import { BUILTIN_USERS } from "../render/acl";
import { renderSentinelConf, SentinelConfSettings } from "../render/sentinel-conf";

export interface SentinelPartOptions {
  readonly conf: SentinelConfSettings;
  /** Lowest Redis major version the boot accepts. */
  readonly minRedisMajor: number;
}

/** redis-sentinel: the package and sentinel.conf, rendered once at first boot. */
export function sentinelPart(options: SentinelPartOptions): BootPart {
  return {
    name: "sentinel",
    order: 40,
    packages: ["redis-sentinel", "redis-tools"],
    files: [
      { path: hardeningDropInPath("redis-sentinel.service"), permissions: "0644", content: renderHardeningDropIn() },
      { path: `${TEMPLATE_DIR}/sentinel.conf.template`, permissions: "0600", content: renderSentinelConf(options.conf) },
    ],
    // The boot checks Sentinel as its peers do, whose password this node holds.
    env: {
      SENTINEL_PORT: String(options.conf.port),
      // Password rotation sets the master's auth-pass by this name.
      SENTINEL_MASTER_NAME: options.conf.masterName,
      MIN_REDIS_MAJOR: String(options.minRedisMajor),
      SENTINEL_HEALTH_USER: BUILTIN_USERS.sentinelPeer,
      // Their passwords are written unquoted when Sentinel rewrites its config.
      SENTINEL_REWRITTEN_USERS: `${BUILTIN_USERS.sentinel} ${BUILTIN_USERS.sentinelPeer}`,
    },
    step: "sentinel.sh",
    services: ["redis-sentinel.service"],
  };
}
