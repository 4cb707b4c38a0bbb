import { Construct } from "constructs";
import { grantToRole } from "../iam/grant";
import { RedisPolicyStatement } from "../iam/policy-statement";
import { RedisPassword, RedisPasswordBinding } from "./password";
import { secretReadStatements } from "./secret-store";

/** An application user of the group's data nodes: what it may touch, and its password. */
export interface RedisUserOptions {
  /** User name clients give AUTH (letters, digits, "-", "_"; not a name the library uses). */
  readonly name: string;
  /**
   * Key patterns the user may access (`~pattern`).
   * @default ["*"] every key
   */
  readonly keyPatterns?: string[];
  /**
   * Pub/Sub channel patterns the user may use (`&pattern`).
   * @default ["*"] every channel
   */
  readonly channelPatterns?: string[];
  /**
   * Only read commands (no @write).
   * @default false
   */
  readonly readOnly?: boolean;
  /**
   * Allow Lua scripts and functions (EVAL, FCALL, SCRIPT, FUNCTION).
   * @default false
   */
  readonly allowScripting?: boolean;
  /**
   * Further ACL rules (`+command`, `-command`, `+@category`, `-@category`,
   * `~key`, `&channel`), checked against Redis 7.0's commands and categories
   * at synth time. Applied after the library's rules, so they can widen them.
   * @default - none
   */
  readonly extraRules?: string[];
  /**
   * The user's password.
   * @default RedisPassword.generated(): its own random SSM SecureString
   */
  readonly password?: RedisPassword;
}

export interface RedisUserProps {
  /** The ACL user name. */
  readonly userName: string;
  /** @default RedisPassword.generated() */
  readonly password?: RedisPassword;
}

/**
 * A Redis ACL user of a group and its secret. Applications and operators
 * read their own user's password with `grantRead`; the nodes read only what
 * they need (for most users, its SHA-256).
 */
export class RedisUser extends Construct {
  /** The ACL user name. @attribute */
  public readonly userName: string;
  /** ARN of the parameter or secret that holds the password. @attribute */
  public readonly passwordSecretArn: string;
  /** Where the password (and its hash) live. */
  public readonly password: RedisPasswordBinding;

  constructor(scope: Construct, id: string, props: RedisUserProps) {
    super(scope, id);
    this.userName = props.userName;
    this.password = (props.password ?? RedisPassword.generated()).bind(this);
    this.passwordSecretArn = this.password.secretArn;
  }

  /** Statements that allow reading this user's password (and decrypting it with its customer managed key). */
  public readStatements(): RedisPolicyStatement[] {
    return secretReadStatements(this.password.secretArn, this.password.store, this.password.kmsKeyArn);
  }

  /** Lets an IAM role (by name) read this user's password: an inline policy on that role. */
  public grantRead(roleName: string): void {
    grantToRole(this, "grant-read", roleName, this.readStatements());
  }
}
