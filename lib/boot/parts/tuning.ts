import { BootPart } from "../boot-part";
import { renderSysctlConf, renderThpUnit, SYSCTL_FILE, THP_UNIT_FILE, THP_UNIT_NAME } from "../render/system-tuning";

/** Kernel tuning: overcommit, somaxconn for the tcp-backlog, THP off; all hold after a reboot. */
export function tuningPart(options: { readonly tcpBacklog: number }): BootPart {
  return {
    name: "tuning",
    order: 10,
    packages: [],
    files: [
      { path: SYSCTL_FILE, permissions: "0644", content: renderSysctlConf(options.tcpBacklog) },
      { path: THP_UNIT_FILE, permissions: "0644", content: renderThpUnit() },
    ],
    env: { SYSCTL_FILE, THP_UNIT: THP_UNIT_NAME },
    step: "tuning.sh",
  };
}
