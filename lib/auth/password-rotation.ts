import { createHash } from "crypto";
import { SsmDocument } from "@cdktf/provider-aws/lib/ssm-document";
import { Construct, IConstruct } from "constructs";
import { GROUP_TAG_KEY, renderRotatePasswordDocument } from "../boot/rotate-password";

const MAX_DOCUMENT_NAME = 128;
const SUFFIX = "-rotate-password";

/**
 * The document's name, from the group's construct path as the users'
 * parameters are named: letters, digits, "_", "-" and "." (SSM's alphabet),
 * never starting with "aws"/"amazon" (reserved), at most 128 characters (a
 * longer path keeps its start and a digest of the whole).
 */
export function rotationDocumentName(group: IConstruct): string {
  const path = group.node.path;
  const name = `redis-replication-${path.replace(/[^A-Za-z0-9_.-]/g, "-")}`;
  if (name.length + SUFFIX.length <= MAX_DOCUMENT_NAME) return name + SUFFIX;
  const digest = createHash("sha256").update(path).digest("hex").slice(0, 10);
  return `${name.slice(0, MAX_DOCUMENT_NAME - SUFFIX.length - digest.length - 1)}-${digest}${SUFFIX}`;
}

/**
 * The tag that marks every node of the group: `--targets` of `aws ssm
 * send-command` selects them by it. Its value is the group's construct path
 * in the characters every AWS service takes in tags (and no comma, which
 * would split `Values=`).
 */
export function groupTag(group: IConstruct): { readonly key: string; readonly value: string } {
  return { key: GROUP_TAG_KEY, value: group.node.path.replace(/[^A-Za-z0-9 +=._:/@-]/g, "-") };
}

export interface PasswordRotationProps {
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
}

/**
 * The group's password rotation: an SSM Command document that runs one
 * step of a rotation (add, switch, retire) for one user on the nodes it is
 * sent to. Operators send it to every node of the group at once.
 */
export class PasswordRotation extends Construct {
  /** Name of the SSM document. @attribute */
  public readonly documentName: string;
  /** `--targets` of `aws ssm send-command` that selects every node of the group. */
  public readonly targets: string;

  constructor(scope: Construct, id: string, props: PasswordRotationProps = {}) {
    super(scope, id);
    const document = new SsmDocument(this, "document", {
      name: rotationDocumentName(scope),
      documentType: "Command",
      documentFormat: "JSON",
      targetType: "/AWS::EC2::Instance",
      content: renderRotatePasswordDocument(),
      tags: props.tags,
    });
    this.documentName = document.name;
    const tag = groupTag(scope);
    this.targets = `Key=tag:${tag.key},Values=${tag.value}`;
  }
}
