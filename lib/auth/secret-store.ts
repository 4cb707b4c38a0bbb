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

/**
 * IAM statements that allow reading exactly one secret: the read action
 * on its ARN, and kms:Decrypt on its customer managed key if it has one.
 * Without a known store (an imported ARN that is a token) both read actions
 * name the same single ARN, which still grants nothing else.
 */
export function secretReadStatements(arn: string, store?: SecretStore, kmsKeyArn?: string): RedisPolicyStatement[] {
  const actions = store ? [READ_ACTION[store]] : Object.values(READ_ACTION);
  const statements: RedisPolicyStatement[] = [{ actions, resources: [arn] }];
  if (kmsKeyArn) statements.push({ actions: ["kms:Decrypt"], resources: [kmsKeyArn] });
  return statements;
}
