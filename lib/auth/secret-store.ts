import { RedisPolicyStatement } from "../iam/policy-statement";

/** Where a secret lives; a node reads it with its instance role at boot. */
export enum SecretStore {
  /** SSM Parameter Store, a SecureString parameter. */
  SSM = "ssm",
  /** AWS Secrets Manager; the SecretString is the secret. */
  SECRETS_MANAGER = "secretsmanager",
}

/** The read action of each store. */
const READ_ACTION: Record<SecretStore, string> = {
  [SecretStore.SSM]: "ssm:GetParameter",
  [SecretStore.SECRETS_MANAGER]: "secretsmanager:GetSecretValue",
};

/** The encryption context each store gives KMS: it names the secret being decrypted. */
const ENCRYPTION_CONTEXT_KEY: Record<SecretStore, string> = {
  [SecretStore.SSM]: "kms:EncryptionContext:PARAMETER_ARN",
  [SecretStore.SECRETS_MANAGER]: "kms:EncryptionContext:SecretARN",
};

/**
 * IAM statements that allow reading exactly one secret: the read action
 * on its ARN, and kms:Decrypt on its customer managed key if it has one,
 * only through the store and only for that secret (kms:ViaService and the
 * store's encryption context), so the key opens nothing else it encrypts.
 * Without a known store (an imported ARN that is a token) both read actions
 * name the same single ARN, which still grants nothing else.
 */
export function secretReadStatements(arn: string, store?: SecretStore, kmsKeyArn?: string): RedisPolicyStatement[] {
  const stores = store ? [store] : Object.values(SecretStore);
  const statements: RedisPolicyStatement[] = [{ actions: stores.map((s) => READ_ACTION[s]), resources: [arn] }];
  for (const s of kmsKeyArn ? stores : []) {
    statements.push({
      actions: ["kms:Decrypt"],
      resources: [kmsKeyArn!],
      conditions: {
        StringLike: { "kms:ViaService": `${s}.*` },
        StringEquals: { [ENCRYPTION_CONTEXT_KEY[s]]: arn },
      },
    });
  }
  return statements;
}
