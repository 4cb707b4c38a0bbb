import { DataAwsSecretsmanagerRandomPassword } from "@cdktf/provider-aws/lib/data-aws-secretsmanager-random-password";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { parameterNameOf } from "../private/parameter-name";
import { Fn, Token } from "cdktf";
import { Construct } from "constructs";
import { SecretStore } from "./secret-store";

/** What a node needs to know about the password: where to read it, and the IAM grant. */
export interface RedisPasswordBinding {
  readonly store: SecretStore;
  /** The id the node asks the store for (parameter name or ARN, secret ARN). */
  readonly secretId: string;
  /** ARN the instance role is allowed to read, and nothing else. */
  readonly secretArn: string;
  /** Customer managed KMS key that encrypts the secret, if any. */
  readonly kmsKeyArn?: string;
  /**
   * Where the hex SHA-256 of the password is stored, in the same store and
   * with the same key, so that nodes which only check the password never
   * read it.
   * @default - none: such nodes read the password and hash it at boot
   */
  readonly sha256?: RedisSecretLocation;
}

/** Where a node finds one secret value. */
export interface RedisSecretLocation {
  /** The id the node asks the store for. */
  readonly secretId: string;
  /** The ARN a role is granted to read. */
  readonly secretArn: string;
}

/** Options of a password the library generates and stores. */
export interface GeneratedRedisPasswordOptions {
  /**
   * Name of the SSM parameter to create; its SHA-256 goes to "<name>-sha256".
   * @default - "/redis-replication/<construct path>/password"
   */
  readonly parameterName?: string;
  /**
   * ARN of a customer managed KMS key for the SecureString (the node role
   * gets kms:Decrypt on exactly this key).
   * @default - the AWS managed key alias/aws/ssm
   */
  readonly kmsKeyArn?: string;
  /**
   * Length of the generated password (letters and digits only, so it needs no
   * quoting anywhere).
   * @default 32
   */
  readonly length?: number;
}

/**
 * Where the Redis password lives. It never appears in the synthesized JSON
 * or the user data: nodes fetch it at boot with their instance role.
 */
export abstract class RedisPassword {
  /**
   * Generates a random password (AWS Secrets Manager's GetRandomPassword) and
   * stores it as an SSM SecureString parameter. The value lives in Terraform
   * state, as every Terraform-managed secret does: protect the state.
   */
  public static generated(options: GeneratedRedisPasswordOptions = {}): RedisPassword {
    return new GeneratedPassword(options);
  }

  /** An SSM SecureString parameter you manage, by ARN. */
  public static fromSsmParameterArn(parameterArn: string, kmsKeyArn?: string): RedisPassword {
    return new ExistingPassword(SecretStore.SSM, parameterArn, kmsKeyArn);
  }

  /** A Secrets Manager secret you manage, by ARN; its SecretString is the password. */
  public static fromSecretsManagerSecretArn(secretArn: string, kmsKeyArn?: string): RedisPassword {
    return new ExistingPassword(SecretStore.SECRETS_MANAGER, secretArn, kmsKeyArn);
  }

  /** Problems with the literal values given (for the group's validation); [] when there is none. */
  public abstract validate(): string[];

  /** Creates what the password needs (once per scope) and says where it is. */
  public abstract bind(scope: Construct): RedisPasswordBinding;
}

const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** IAM grants need the key's ARN: a key id or an alias would grant nothing. */
function kmsKeyArnProblems(value: string | undefined): string[] {
  if (value === undefined || Token.isUnresolved(value) || KMS_KEY_ARN.test(value)) return [];
  return [
    `password kmsKeyArn "${value}" is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>); a key id or alias cannot be granted kms:Decrypt`,
  ];
}

class GeneratedPassword extends RedisPassword {
  private binding?: RedisPasswordBinding;

  constructor(private readonly options: GeneratedRedisPasswordOptions) {
    super();
  }

  public validate(): string[] {
    const length = this.options.length;
    const problems = kmsKeyArnProblems(this.options.kmsKeyArn);
    if (length !== undefined && !Token.isUnresolved(length) && (!Number.isInteger(length) || length < 16 || length > 128)) {
      problems.push(`password length must be a whole number from 16 to 128, got ${length}`);
    }
    return problems;
  }

  public bind(scope: Construct): RedisPasswordBinding {
    if (this.binding) return this.binding;
    const random = new DataAwsSecretsmanagerRandomPassword(scope, "password-generator", {
      passwordLength: this.options.length ?? 32,
      excludePunctuation: true,
      includeSpace: false,
    });
    const name = this.options.parameterName ?? parameterNameOf(scope, "password");
    const parameter = new SsmParameter(scope, "password", {
      name,
      description: `Redis password of ${scope.node.path}`,
      type: "SecureString",
      keyId: this.options.kmsKeyArn,
      value: random.randomPassword,
      // The data source yields a new password on every plan: keep the first.
      lifecycle: { ignoreChanges: ["value"] },
    });
    // The hash that nodes put in their ACL files, computed by Terraform from
    // the stored value: it follows the password, also one changed by hand.
    const hash = new SsmParameter(scope, "password-sha256", {
      name: `${name}-sha256`,
      description: `SHA-256 of the Redis password of ${scope.node.path}`,
      type: "SecureString",
      keyId: this.options.kmsKeyArn,
      value: Fn.sha256(parameter.value),
    });
    this.binding = {
      store: SecretStore.SSM,
      secretId: parameter.name,
      secretArn: parameter.arn,
      kmsKeyArn: this.options.kmsKeyArn,
      sha256: { secretId: hash.name, secretArn: hash.arn },
    };
    return this.binding;
  }
}

class ExistingPassword extends RedisPassword {
  constructor(
    private readonly store: SecretStore,
    private readonly arn: string,
    private readonly kmsKeyArn?: string,
  ) {
    super();
  }

  public validate(): string[] {
    const service = this.store; // the ARN's service name
    const problems = kmsKeyArnProblems(this.kmsKeyArn);
    if (!Token.isUnresolved(this.arn) && !new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:\\S+$`).test(this.arn)) {
      problems.unshift(
        `password: "${this.arn}" is not an ARN of ${service === SecretStore.SSM ? "an SSM parameter" : "a Secrets Manager secret"} (arn:aws:${service}:<region>:<account>:...)`,
      );
    }
    return problems;
  }

  public bind(): RedisPasswordBinding {
    return { store: this.store, secretId: this.arn, secretArn: this.arn, kmsKeyArn: this.kmsKeyArn };
  }
}
