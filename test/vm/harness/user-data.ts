/**
 * The nodes of examples/basic and their user data as EC2 hands it to each
 * instance: taken out of the synthesized stack, never rendered a second time.
 */
import { Testing } from "cdktf";
import { gunzipSync, gzipSync } from "zlib";
import { parse } from "yaml";
import { BasicExampleStack } from "../../../examples/basic/main";
import { SentinelOptions } from "../../../lib";
import { unescapeTerraformTemplate } from "../../../lib/boot";
import { readableUserData, TerraformJson } from "../../helpers";
import { parameterNamesOf, resolveReferences } from "../../integration/synthesized-nodes";

export interface ExampleNode {
  /** Construct id: master, replica-1, ... */
  readonly name: string;
  /** Terraform address of its ENI, e.g. aws_network_interface.redis_master_eni_X. */
  readonly eni: string;
  /** The aws_instance resource as synthesized. */
  readonly instance: TerraformJson;
  /** The readable #cloud-config template its user_data_base64 compresses. */
  readonly template: string;
  /** Names of the stack's SSM parameters, by Terraform address. */
  readonly parameterNames: Record<string, string>;
  /** The boot library's parameters, name -> value as Terraform stores it (escapes undone). */
  readonly libraryParameters: Record<string, string>;
}

/** The private zone of the VM nodes' writer and reader names (the fake Route 53 serves it). */
export const VM_DNS_ZONE = "redis.internal";

/**
 * `region`: the one the image's /etc/hosts maps endpoint names for.
 * `instanceStore`: the group with its data on the instance store (the same
 * nodes, addresses and parameters; another data-volume part).
 * `sentinel`: the example's sentinel settings (dedicated sentinel nodes);
 * such a group is booted without writer and reader names.
 */
export function synthesizeExampleNodes(region: string, instanceStore = false, sentinel?: SentinelOptions): ExampleNode[] {
  // With writer and reader names: their boot part (Sentinel's reconfiguration hook, the root updater) runs too.
  const stack = new BasicExampleStack(Testing.app(), "vm", { region, ...(sentinel ? { sentinel } : { dns: { zoneName: VM_DNS_ZONE } }), instanceStore });
  const json = JSON.parse(Testing.synth(stack));
  const res = json.resource;
  const parameterNames = parameterNamesOf(json);
  const libraryParameters = libraryParametersOf(json);
  return Object.entries<TerraformJson>(res.aws_instance).map(([key, instance]) => {
    const name = /^redis_(.+)_instance_[0-9A-F]{8}$/.exec(key)?.[1];
    if (!name) throw new Error(`unexpected instance resource ${key}`);
    const eni = /^\$\{(aws_network_interface\.[^.]+)\.id\}$/.exec(instance.primary_network_interface?.network_interface_id ?? "")?.[1];
    if (!eni) throw new Error(`${key} has no primary network interface reference`);
    return { name, eni, instance, template: readableUserData(json, instance), parameterNames, libraryParameters };
  });
}

/** The values of the boot library's parameters (aws_ssm_parameter ".../boot/<i>"), by name, as Terraform writes them. */
function libraryParametersOf(json: TerraformJson): Record<string, string> {
  const library = Object.values<TerraformJson>(json.resource.aws_ssm_parameter).filter((p) => /\/boot\/\d+$/.test(p.name));
  if (library.length === 0) throw new Error("the stack has no boot library parameters");
  return Object.fromEntries(library.map((p) => [p.name as string, unescapeTerraformTemplate(p.value as string)]));
}

/**
 * The user data of one node as EC2 receives it: the bytes cloud-init reads,
 * with the Terraform references filled as Terraform would at apply time
 * (ENI addresses from `addresses`, the maxmemory expression, the parameter
 * name; see resolveReferences).
 *
 * The one place that knows how the library ships user data: a readable
 * `#cloud-config` Terraform template in a local, which the instance's
 * `user_data_base64 = base64gzip(local...)` fills and compresses. Here the
 * references are filled the same way, then the text gzip'd: the VM's seed
 * gets the bytes EC2 would hand the instance, and cloud-init reads gzip.
 */
export function userDataAsEc2ReceivesIt(node: ExampleNode, addresses: Record<string, string>, maxMemoryMb: number): Buffer {
  return gzipSync(Buffer.from(resolveReferences(node.template, addresses, maxMemoryMb, node.parameterNames), "utf8"));
}

/** The #cloud-config text of user data bytes (gunzipped when gzip'd, as cloud-init does). */
export function cloudConfigText(userData: Buffer): string {
  const isGzip = userData.length > 2 && userData[0] === 0x1f && userData[1] === 0x8b;
  const text = (isGzip ? gunzipSync(userData) : userData).toString("utf8");
  if (!text.startsWith("#cloud-config\n")) throw new Error(`user data is not a #cloud-config: ${JSON.stringify(text.slice(0, 40))}`);
  return text;
}

/** The files a cloud-config writes (write_files), by path. */
export function cloudConfigFiles(userData: Buffer): Record<string, string> {
  const doc = parse(cloudConfigText(userData)) as { write_files?: { path: string; content: string }[] };
  return Object.fromEntries((doc.write_files ?? []).map((f) => [f.path, f.content]));
}

/** The variables of the boot script's settings file (node.env: NAME='value' lines). */
export function nodeEnv(userData: Buffer, nodeEnvPath: string): Record<string, string> {
  const text = cloudConfigFiles(userData)[nodeEnvPath];
  if (text === undefined) throw new Error(`the user data writes no ${nodeEnvPath}`);
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)='((?:[^']|'\\'')*)'$/.exec(line);
    if (m) vars[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return vars;
}
