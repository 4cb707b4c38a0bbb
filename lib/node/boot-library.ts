import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { Construct } from "constructs";
import { BootLibraryLocation, bootLibrary } from "../boot";
import { RedisPolicyStatement } from "../iam/policy-statement";
import { parameterNameOf } from "../private/parameter-name";

export interface RedisBootLibraryProps {
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
}

/**
 * The boot library of a group in SSM Parameter Store: the scripts its
 * nodes run at first boot, as standard String parameters
 * "/redis-replication/<group path>/boot/<i>" (4 KB each, no charge). They
 * hold no secret; the nodes check them against the SHA-256 in their user
 * data before they run them.
 */
export class RedisBootLibrary extends Construct {
  /** Where the nodes read it. */
  public readonly location: BootLibraryLocation;
  private readonly parameterArns: string[];

  constructor(scope: Construct, id: string, props: RedisBootLibraryProps = {}) {
    super(scope, id);
    const library = bootLibrary();
    const parameters = library.chunks.map(
      (value, i) =>
        new SsmParameter(this, `part-${i}`, {
          name: parameterNameOf(scope, `boot/${i}`),
          description: `Boot library of the Redis nodes of ${scope.node.path}, ${i + 1} of ${library.chunks.length} (SHA-256 ${library.sha256})`,
          type: "String",
          tier: "Standard",
          value,
          tags: props.tags,
        }),
    );
    this.location = { parameterNames: parameters.map((p) => p.name), sha256: library.sha256 };
    this.parameterArns = parameters.map((p) => p.arn);
  }

  /** What a node role needs to read the library. */
  public get readStatement(): RedisPolicyStatement {
    return { actions: ["ssm:GetParameters"], resources: this.parameterArns };
  }
}
