import { SecretStore, secretReadStatements } from "../../auth/secret-store";
import { BootPart, IBootPartGrantee } from "../boot-part";

export interface SecretFetchOptions {
  readonly store: SecretStore;
  /** What the node asks the store for: parameter name or ARN, or secret ARN. */
  readonly secretId: string;
  /** ARN the node role may read, and nothing else. */
  readonly secretArn: string;
  /** Customer managed key of the secret, if any. */
  readonly kmsKeyArn?: string;
}

/** Fetches the Redis password at boot with the instance role, and grants the role that one read. */
export function secretFetchPart(options: SecretFetchOptions): BootPart {
  return {
    name: "secret-fetch",
    order: 20,
    packages: ["curl", "python3"],
    files: [],
    env: { REDIS_SECRET_STORE: options.store, REDIS_SECRET_ID: options.secretId },
    step: "secret-fetch.sh",
    bind(grantee: IBootPartGrantee) {
      for (const s of secretReadStatements(options.secretArn, options.store, options.kmsKeyArn)) grantee.addToPolicy(s);
    },
  };
}
