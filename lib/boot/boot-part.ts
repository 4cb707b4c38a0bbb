import { RedisPolicyStatement } from "../iam/policy-statement";

/** A file cloud-init writes before the packages are installed. */
export interface BootFile {
  readonly path: string;
  readonly content: string;
  /** Octal mode, such as "0644". */
  readonly permissions: string;
  /** @default "root:root" */
  readonly owner?: string;
}

/** Where a boot part adds the IAM statements it needs: the node role. */
export interface IBootPartGrantee {
  addToPolicy(statement: RedisPolicyStatement): void;
}

/**
 * One concern of a node's boot (kernel tuning, the secret fetch,
 * redis-server, Sentinel; later TLS, ACL users, a data volume, metrics).
 * A part brings everything it needs, so a new concern is a new part and
 * leaves the others alone:
 * - the packages it installs and the files it writes;
 * - settings for its shell step (variables in node.env);
 * - its shell step, a `.sh` asset that the entry script runs in order with
 *   the argument `check`, then `prepare`, then `start`;
 * - the IAM statements it needs, added to the node role by `bind`.
 */
export interface BootPart {
  /** Short name, also the name of its step on the node. */
  readonly name: string;
  /** Position of its step among the node's parts (lower runs first). */
  readonly order: number;
  readonly packages: readonly string[];
  readonly files: readonly BootFile[];
  /** Variables for node.env, which every step sources. */
  readonly env: Readonly<Record<string, string>>;
  /** File name of its step under lib/boot/parts/assets, if it has one. */
  readonly step?: string;
  /**
   * systemd units of packages the part installs, which must not run before
   * its step has configured them: masked at every boot until a setup
   * succeeds, so apt cannot start them with their stock settings and a
   * failed setup leaves them down.
   */
  readonly services?: readonly string[];
  /** Adds the IAM statements the part needs. */
  bind?(grantee: IBootPartGrantee): void;
}
