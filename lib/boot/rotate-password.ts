import { bootAsset, escapeTerraformTemplate } from "./assets";

/**
 * Password rotation on the nodes: the SSM Command document that runs
 * rotate-password.sh (an asset like the boot's scripts) on every node of a
 * group. Not part of the user data: the nodes get it from SSM when an
 * operator sends the command.
 */

/** The steps of a rotation, in order (the document's Step parameter). */
export const ROTATION_STEPS = ["add", "switch", "retire"] as const;

/** What the document's User parameter allows: SSM puts it into the script's text. */
export const ROTATION_USER_PATTERN = "^[A-Za-z0-9_-]+$";

/** Seconds a step may take on a node (a secret fetch retries for up to a few minutes). */
export const ROTATION_TIMEOUT_SECONDS = 600;

/** The tag every node of a group carries (value: the group's construct path): the command's target. */
export const GROUP_TAG_KEY = "redis-replication-group";

/** The script the document runs, as the asset holds it. */
export function rotatePasswordScript(): string {
  return bootAsset("rotate-password.sh");
}

/**
 * The document's content (schemaVersion 2.2, JSON), escaped for the
 * Terraform string it is written into: the script's `${` are literal.
 */
export function renderRotatePasswordDocument(): string {
  const document = {
    schemaVersion: "2.2",
    description:
      "Rotates a Redis ACL user's password on this node, one step at a time, after the new password was written to the user's secret: " +
      "add (accept the new password besides the old), switch (the nodes log in with it: replication, sentinel, sentinel-peer), " +
      "retire (accept only the new password). Run each step on every node of the group, and the next only when it succeeded on all.",
    parameters: {
      User: { type: "String", description: "The ACL user whose password is rotated.", allowedPattern: ROTATION_USER_PATTERN },
      Step: { type: "String", description: "add, then switch, then retire.", allowedValues: [...ROTATION_STEPS] },
    },
    mainSteps: [
      {
        action: "aws:runShellScript",
        name: "rotatePassword",
        inputs: { timeoutSeconds: String(ROTATION_TIMEOUT_SECONDS), runCommand: rotatePasswordScript().replace(/\n$/, "").split("\n") },
      },
    ],
  };
  return escapeTerraformTemplate(JSON.stringify(document, null, 2));
}
