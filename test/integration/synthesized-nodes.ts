// Reads the nodes' configuration out of the synthesized example stack: the
// integration tests run what the library really emits, not a second rendering.
import { createHash } from "crypto";
import { Testing } from "cdktf";
import { escapeTerraformTemplate } from "../../lib/boot";
import { libraryFilesOf, parseCloudConfig, readableUserData } from "../helpers";
import { BasicExampleStack, BasicExampleStackProps } from "../../examples/basic/main";

export interface SynthesizedNode {
  /** Construct id of the node: master, replica-1, ... */
  readonly name: string;
  /** Terraform address of the node's ENI, e.g. aws_network_interface.redis_master_eni_X. */
  readonly eni: string;
  /**
   * The files the boot puts on the node, as Terraform templates: write_files
   * of its #cloud-config (the whole user data is one) and the boot library
   * its entry script installs (read from the stack's parameters, checked
   * against the pinned SHA-256). Pass each through resolveReferences to get
   * the file that lands on the node.
   */
  readonly files: Record<string, string>;
}

export interface SynthesizedIngressRule {
  readonly port: number;
  /** "self" (the Redis group), a Terraform reference to another group, or a CIDR. */
  readonly source: string;
}

export interface SynthesizedExample {
  readonly nodes: SynthesizedNode[];
  readonly ingress: SynthesizedIngressRule[];
  /** Terraform reference of the application clients' security group. */
  readonly appSecurityGroupRef: string;
  /** The literal name of every SSM parameter, by Terraform address (as parameterNamesOf). */
  readonly parameterNames: Record<string, string>;
  /** The content of every SSM document as Terraform writes it (escapes undone), by its name. */
  readonly ssmDocuments: Record<string, string>;
}

/** The application servers' group in examples/basic (construct id "app-clients"). */
const APP_GROUP = "app-clients";

/** The example as it synthesizes with `props` (by default as it is: `monitoring` off, for instance). */
export function synthesizeBasicExample(props: BasicExampleStackProps = {}): SynthesizedExample {
  const stack = new BasicExampleStack(Testing.app(), "integration", { region: "us-east-1", ...props });
  const json = JSON.parse(Testing.synth(stack));
  const res = json.resource;
  // Testing.synth drops the "//" metadata, so the node name comes from the
  // resource key, which is the construct path: redis_<node>_instance_<hash>.
  const nodes: SynthesizedNode[] = Object.entries<any>(res.aws_instance).map(([key, instance]) => {
    const name = /^redis_(.+)_instance_[0-9A-F]{8}$/.exec(key)?.[1];
    if (!name) throw new Error(`unexpected instance resource ${key}`);
    const eni = /^\$\{(aws_network_interface\.[^.]+)\.id\}$/.exec(instance.primary_network_interface?.network_interface_id ?? "")?.[1];
    if (!eni) throw new Error(`${key} has no primary network interface reference`);
    const userData = readableUserData(json, instance);
    const files: Record<string, string> = {};
    for (const f of parseCloudConfig(userData).write_files) files[f.path] = f.content;
    for (const [file, text] of Object.entries(libraryFilesOf(json, userData))) files[file] = escapeTerraformTemplate(text);
    return { name, eni, files };
  });
  const redisGroup = Object.keys(res.aws_security_group).find((k) => k.startsWith("redis_"));
  if (!redisGroup || !res.aws_security_group[APP_GROUP]) throw new Error(`expected a redis_* and an ${APP_GROUP} security group`);
  const redisGroupRef = `\${aws_security_group.${redisGroup}.id}`;
  const ingress = Object.entries<any>(res.aws_vpc_security_group_ingress_rule)
    .filter(([, r]) => r.security_group_id === redisGroupRef)
    .map(([key, r]) => {
      // A port range or another protocol would be mirrored wrongly by a per-port TCP rule.
      if (r.ip_protocol !== "tcp" || r.from_port !== r.to_port) throw new Error(`cannot mirror ingress rule ${key}: ${JSON.stringify(r)}`);
      const source = r.referenced_security_group_id === redisGroupRef ? "self" : (r.referenced_security_group_id ?? r.cidr_ipv4);
      if (!source) throw new Error(`ingress rule ${key} has no source`);
      return { port: r.from_port as number, source };
    });
  const ssmDocuments = Object.fromEntries(
    Object.values<any>(res.aws_ssm_document ?? {}).map((d) => [d.name as string, resolveReferences(d.content as string, {}, 0)]),
  );
  return { nodes, ingress, appSecurityGroupRef: `\${aws_security_group.${APP_GROUP}.id}`, parameterNames: parameterNamesOf(json), ssmDocuments };
}

// One pass, as Terraform reads a template: escapes ($${, %%{) and references (${...}).
const TEMPLATE_TOKEN = /\$\$\{|%%\{|%\{|\$\{([^}]*)\}/g;

/** The literal `name` of every aws_ssm_parameter of a synthesized stack, by Terraform address. */
export function parameterNamesOf(json: Record<string, any>): Record<string, string> {
  return Object.fromEntries(Object.entries<any>(json.resource?.aws_ssm_parameter ?? {}).map(([id, p]) => [`aws_ssm_parameter.${id}`, p.name as string]));
}

/**
 * The id that stands for an aws_ebs_volume's in tests: "vol-" and 17 hex
 * digits, as EC2's, made from the Terraform address (the same address
 * always gets the same id, so a VM's NVMe disk can carry it as its serial).
 */
export function testVolumeId(address: string): string {
  return `vol-${createHash("sha256").update(address).digest("hex").slice(0, 17)}`;
}

/** The id that stands for an aws_route53_zone's in tests: "Z" and 20 characters, as Route 53's, from the Terraform address. */
export function testZoneId(address: string): string {
  return `Z${createHash("sha256").update(address).digest("hex").slice(0, 20).toUpperCase()}`;
}

/**
 * Evaluates a node's file as Terraform would at apply time: ENI addresses
 * become the given addresses, the maxmemory expression (instance memory x
 * 0.7) a test value, a parameter's name its name in `parameterNames` (when
 * given; else one test name), a data volume's id its testVolumeId, a hosted
 * zone's id its testZoneId, `$${` /
 * `%%{` literal `${` / `%{`. Fails on any other reference or directive, so a
 * new one cannot slip through untested.
 */
export function resolveReferences(text: string, addresses: Record<string, string>, maxMemoryMb: number, parameterNames?: Record<string, string>): string {
  return text.replace(TEMPLATE_TOKEN, (whole, expr: string | undefined) => {
    if (whole === "$${") return "${";
    if (whole === "%%{") return "%{";
    if (expr === undefined) throw new Error(`Unexpected Terraform template directive in user data near: ${whole}`);
    const eni = /^(aws_network_interface\.[^.]+)\.private_ip$/.exec(expr);
    if (eni) {
      const address = addresses[eni[1]];
      if (!address) throw new Error(`No test address for ${eni[1]}`);
      return address;
    }
    if (/^floor\(\(data\.aws_ec2_instance_type\.[^.]+\.memory_size \* 0\.7\)\)$/.test(expr)) return String(maxMemoryMb);
    const parameter = /^(aws_ssm_parameter\.[^.]+)\.name$/.exec(expr);
    if (parameter) {
      if (!parameterNames) return "/test/redis/password";
      const name = parameterNames[parameter[1]];
      if (!name) throw new Error(`No parameter ${parameter[1]} in the synthesized stack`);
      return name;
    }
    const volume = /^(aws_ebs_volume\.[^.]+)\.id$/.exec(expr);
    if (volume) return testVolumeId(volume[1]);
    const zone = /^(aws_route53_zone\.[^.]+)\.zone_id$/.exec(expr);
    if (zone) return testZoneId(zone[1]);
    throw new Error(`Unexpected Terraform reference in user data: ${whole}`);
  });
}
