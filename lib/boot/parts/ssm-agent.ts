import { BootPart } from "../boot-part";

/**
 * The SSM agent on every node: Session Manager is the way in (no SSH key,
 * no open port; the node role has its actions), and monitoring's State
 * Manager associations run through it. Ubuntu's images carry the agent;
 * Debian's (the default image) do not, so the step installs AWS's package
 * for Debian from the region's S3 endpoint over HTTPS when no agent is
 * there. It runs last, after Redis and Sentinel have started, and a failure
 * is a warning, not a failed boot. Its step is in the boot library: the
 * part adds its name to the user data, nothing more.
 */
export function ssmAgentPart(): BootPart {
  return {
    name: "ssm-agent",
    order: 90,
    packages: [],
    files: [],
    env: {},
    step: "ssm-agent.sh",
  };
}
