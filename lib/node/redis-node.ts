import { Instance } from "@cdktf/provider-aws/lib/instance";
import { NetworkInterface } from "@cdktf/provider-aws/lib/network-interface";
import { Fn, Precondition, TerraformLocal } from "cdktf";
import { Construct } from "constructs";
import { BootPart, contributionsOf, renderCloudConfig, userDataSizeProblem } from "../boot";
import { RedisReplicationValidationError } from "../errors";
import { RedisNodeRole } from "../iam/node-role";
import { NodeSpec } from "../private/planner";
import { RedisBootLibrary } from "./boot-library";
import { RedisDataVolume, RedisDataVolumeProps } from "./data-volume";

/** One node of a group, as users see it. */
export interface IRedisNode {
  /** Construct id of the node: "master", "replica-1", "sentinel-1". */
  readonly name: string;
  /** The node's private IPv4 address, its network interface's. @attribute */
  readonly privateIp: string;
  /** @attribute */
  readonly instanceId: string;
  /** @attribute */
  readonly networkInterfaceId: string;
  /** The EBS volume with the node's data (undefined on sentinel-only nodes, or with dataVolume.enabled false). @attribute */
  readonly dataVolumeId?: string;
  /**
   * The readable #cloud-config (a Terraform template); the instance
   * receives it gzip-compressed.
   */
  readonly userData: string;
  /**
   * The node's own instance role: it may read exactly the secrets this node
   * needs (no other node's TLS key, no password it only checks).
   * `addToPolicy` adds statements for this node alone.
   */
  readonly role: RedisNodeRole;
}

export interface RedisNodeProps {
  readonly spec: NodeSpec;
  readonly subnetId: string;
  readonly securityGroupIds: string[];
  readonly amiId: string;
  readonly keyName?: string;
  readonly tags?: { [key: string]: string };
  /** Where and how to make the node's data volume, when its spec has one. */
  readonly dataVolume?: Omit<RedisDataVolumeProps, "spec" | "tags">;
  /** Where the node reads the boot library (the group's). */
  readonly bootLibrary: RedisBootLibrary;
  /** What Terraform checks at plan before it creates the instance. @default - nothing */
  readonly preconditions?: Precondition[];
  /** The node's boot parts, given the node's own address and data volume. */
  readonly bootParts: (node: { readonly address: string; readonly dataVolumeId?: string }) => BootPart[];
}

/**
 * An EC2 instance behind its own network interface. The interface gives the
 * node an address known before the instance exists, so every node's user
 * data can name the master without a dependency cycle, and a replaced
 * instance keeps its address.
 */
export class RedisNode extends Construct implements IRedisNode {
  public readonly name: string;
  public readonly privateIp: string;
  public readonly instanceId: string;
  public readonly networkInterfaceId: string;
  public readonly dataVolumeId?: string;
  public readonly userData: string;
  public readonly role: RedisNodeRole;
  public readonly instance: Instance;

  constructor(scope: Construct, id: string, props: RedisNodeProps) {
    super(scope, id);
    this.name = id;
    const name = this.node.path.replace(/\//g, "-");
    const tags = { ...props.tags, Name: name };

    const eni = new NetworkInterface(this, "eni", {
      subnetId: props.subnetId,
      securityGroups: props.securityGroupIds,
      description: `Redis node ${this.node.path}`,
      tags,
    });
    this.privateIp = eni.privateIp;
    this.networkInterfaceId = eni.id;

    this.role = new RedisNodeRole(this, "role", { tags: props.tags });
    // Before the instance, whose user data names it; attached after it.
    const spec = props.spec.dataVolume?.kind === "ebs" ? props.spec.dataVolume : undefined;
    if ((spec !== undefined) !== (props.dataVolume !== undefined)) throw new Error(`node ${id}: an EBS data volume is ${spec ? "" : "not "}planned, but its zone is ${props.dataVolume ? "given" : "not"}`);
    const dataVolume = spec && new RedisDataVolume(this, "data-volume", { ...props.dataVolume!, spec, tags: { ...tags, Name: `${name}-data` } });
    this.dataVolumeId = dataVolume?.volumeId;

    const parts = props.bootParts({ address: eni.privateIp, dataVolumeId: dataVolume?.volumeId });
    for (const part of parts) part.bind?.(this.role);
    this.role.addToPolicy(props.bootLibrary.readStatement);
    const library = props.bootLibrary.location;
    this.userData = renderCloudConfig(parts, library);
    const tooLarge = userDataSizeProblem(this.userData, () => contributionsOf(parts, library));
    if (tooLarge) throw new RedisReplicationValidationError(this, tooLarge);
    // The readable cloud-config stays in the synthesized JSON as a local
    // (reviews, snapshots); Terraform fills its references, then gzips it:
    // about a third of the size, and cloud-init reads gzip user data.
    const userData = new TerraformLocal(this, "user-data", this.userData);

    this.instance = new Instance(this, "instance", {
      ami: props.amiId,
      instanceType: props.spec.instanceType,
      iamInstanceProfile: this.role.instanceProfileName,
      keyName: props.keyName,
      primaryNetworkInterface: { networkInterfaceId: eni.id },
      metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
      rootBlockDevice: {
        volumeType: "gp3",
        volumeSize: props.spec.rootVolumeSizeGiB,
        encrypted: true,
        deleteOnTermination: true,
        // Not volume_tags: those would also claim the data volume's tags.
        tags,
      },
      userDataBase64: Fn.base64gzip(userData.asString),
      userDataReplaceOnChange: false,
      // After a failover the master is another node than the one Terraform
      // created as master; Redis and Sentinel own their config files from the
      // first boot on. A changed template or a newer AMI must not stop,
      // restart or replace a running node, nor may a new instance type (EC2
      // changes it in place by stopping the instance: every node at once)
      // or key pair (a replacement of every node at once). Each of them
      // reaches a node when it is replaced, deliberately and one at a time
      // (terraform apply -replace=...): a create uses the current config.
      lifecycle: {
        ignoreChanges: ["user_data", "user_data_base64", "ami", "instance_type", "key_name"],
        ...(props.preconditions?.length ? { precondition: props.preconditions } : {}),
      },
      // Simplified automatic recovery: when AWS finds the host impaired, it
      // moves the instance to another host, keeping its id, private address
      // and EBS volumes (instance-store data is lost). "default" turns it on
      // on every type that supports it.
      maintenanceOptions: { autoRecovery: "default" },
      tags,
    });
    this.instanceId = this.instance.id;
    dataVolume?.attachTo(this.instance.id);
  }
}
