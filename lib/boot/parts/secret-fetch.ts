import { SecretStore, secretReadStatements } from "../../auth/secret-store";
import { BootPart, IBootPartGrantee } from "../boot-part";
import { partStepPath } from "../cloud-config";
import { rolePasswordPath } from "./redis-role";

/** The form of a secret on the node: the password, or the hex SHA-256 of it. */
export enum SecretForm {
  PASSWORD = "password",
  SHA256 = "sha256",
}

/** One secret a node reads at boot. */
export interface NodeSecret {
  /** The ACL user the secret belongs to. */
  readonly user: string;
  readonly form: SecretForm;
  readonly store: SecretStore;
  /** What the node asks the store for: parameter name or ARN, or secret ARN. */
  readonly secretId: string;
  /** ARN the node role may read. */
  readonly secretArn: string;
  /** Customer managed key of the secret, if any. */
  readonly kmsKeyArn?: string;
}

export const SECRETS_LIST_PATH = "/etc/redis-node/secrets.list";
/** The node-ops user's password, made on the node at first boot (root only, never sent anywhere). */
export const NODE_OPS_PASSWORD_PATH = rolePasswordPath("node-ops");

const NAME = "secret-fetch";
const ORDER = 20;
const STEP = "secret-fetch.sh";
/** Where the part's step lands: others source it for fetch_secret (tls, password rotation). */
export const SECRET_FETCH_STEP_PATH = partStepPath({ step: STEP });

/** One line per secret: user, form, store, id (last: an ARN may hold anything but a newline). */
export function renderSecretsList(secrets: readonly NodeSecret[]): string {
  return secrets.map((s) => `${s.user} ${s.form} ${s.store} ${s.secretId}`).join("\n") + "\n";
}

/**
 * Fetches the node's secrets at boot with the instance role, into files
 * under /run that the boot removes when it ends, and grants the role
 * exactly those reads. Makes the node-ops user's password, once.
 */
export function secretFetchPart(secrets: readonly NodeSecret[]): BootPart {
  return {
    name: NAME,
    order: ORDER,
    packages: ["curl", "python3"],
    files: [{ path: SECRETS_LIST_PATH, permissions: "0600", content: renderSecretsList(secrets) }],
    env: { SECRETS_LIST: SECRETS_LIST_PATH, SECRET_FETCH_STEP: SECRET_FETCH_STEP_PATH, NODE_OPS_PASSWORD_FILE: NODE_OPS_PASSWORD_PATH },
    step: STEP,
    bind(grantee: IBootPartGrantee) {
      for (const s of secrets) for (const statement of secretReadStatements(s.secretArn, s.store, s.kmsKeyArn)) grantee.addToPolicy(statement);
    },
  };
}
