import { TerraformElement } from "cdktf";
import { Construct } from "constructs";

/** One assertion of a check block: a condition and the warning when it is false. */
export interface CheckAssertion {
  /** A Terraform boolean expression (a token such as `Op.eq(...)`). */
  readonly condition: unknown;
  /** The warning; may hold Terraform references (`${aws_instance.x.instance_type}`). */
  readonly errorMessage: string;
}

/**
 * A Terraform `check` block (Terraform >= 1.5, OpenTofu >= 1.6): assertions
 * evaluated at the end of every plan and apply whose failures are warnings,
 * never errors. cdktf 0.21 (and cdktn) has no construct for it; this element
 * writes one into the synthesized JSON under its own logical id, so that it
 * lives and goes with its construct. The HCL output (`hclOutput`) does not
 * carry it: cdktf renders only the block types it knows there.
 */
export class TerraformCheck extends TerraformElement {
  private readonly assertions: readonly CheckAssertion[];

  constructor(scope: Construct, id: string, assertions: readonly CheckAssertion[]) {
    super(scope, id);
    if (assertions.length === 0) throw new Error(`check ${this.node.path}: a check block needs at least one assertion`);
    this.assertions = assertions;
  }

  /** The block's address, as `terraform plan` names it in its warnings. */
  public get address(): string {
    return `check.${this.friendlyUniqueId}`;
  }

  public override toTerraform(): unknown {
    return {
      check: {
        [this.friendlyUniqueId]: {
          assert: this.assertions.map((a) => ({ condition: a.condition, error_message: a.errorMessage })),
        },
      },
    };
  }
}
