import { BootPart } from "../boot-part";

/**
 * Security updates: unattended-upgrades installs them (when the image has
 * it), and no package upgrade restarts redis-server or redis-sentinel on
 * its own (a policy-rc.d, a needrestart drop-in, no automatic reboot), so
 * an update never restarts every node at once; the rolling procedure does,
 * one node at a time. Everything it writes comes from its step in the boot
 * library: the part adds its name to the user data, nothing more.
 */
export function updatesPart(): BootPart {
  return {
    name: "updates",
    order: 15,
    packages: [],
    files: [],
    env: {},
    step: "updates.sh",
  };
}
