// Reads the nodes' configuration out of the synthesized example stack: the
// integration tests run what the library really emits, not a second rendering.
import { Testing } from "cdktf";
import { parse } from "yaml";
import { BasicExampleStack } from "../../examples/basic/main";
import { unescapeTerraformTemplate } from "../../lib/config";

export interface SynthesizedNode {
  /** Construct id of the node: master, replica-1, ... */
  readonly name: string;
  /** Terraform address of the node's ENI, e.g. aws_network_interface.redis_master_eni_X. */
  readonly eni: string;
  /** write_files of the node's #cloud-config, literal shell unescaped. */
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
}

const REF = /\$\{([^}]*)\}/g;

export function synthesizeBasicExample(): SynthesizedExample {
  const stack = new BasicExampleStack(Testing.app(), "integration", { region: "us-east-1" });
  const json = JSON.parse(Testing.synth(stack));
  const res = json.resource;
  const nodes: SynthesizedNode[] = Object.values<any>(res.aws_instance).map((instance) => {
    const path: string = instance["//"].metadata.path;
    const eni = /^\$\{(aws_network_interface\.[^.]+)\.id\}$/.exec(instance.primary_network_interface.network_interface_id)![1];
    const doc = parse(instance.user_data.replace(/^#cloud-config\n/, ""));
    const files: Record<string, string> = {};
    for (const f of doc.write_files) files[f.path] = f.permissions === "0755" ? unescapeTerraformTemplate(f.content) : f.content;
    return { name: path.split("/").slice(-2)[0], eni, files };
  });
  const redisGroup = Object.keys(res.aws_security_group).find((k) => k.startsWith("redis_"))!;
  const ingress = Object.values<any>(res.aws_vpc_security_group_ingress_rule).map((r) => ({
    port: r.from_port as number,
    source:
      r.referenced_security_group_id === `\${aws_security_group.${redisGroup}.id}`
        ? "self"
        : (r.referenced_security_group_id ?? r.cidr_ipv4),
  }));
  return { nodes, ingress, appSecurityGroupRef: "${aws_security_group.app-clients.id}" };
}

/**
 * Replaces the Terraform references in a node's file as Terraform would at
 * apply time: ENI addresses by the namespace addresses, the maxmemory
 * expression (instance memory x 0.7) by a test value. Fails on any other
 * reference, so a new one cannot slip through untested.
 */
export function resolveReferences(text: string, addresses: Record<string, string>, maxMemoryMb: number): string {
  return text.replace(REF, (whole, expr: string) => {
    const eni = /^(aws_network_interface\.[^.]+)\.private_ip$/.exec(expr);
    if (eni) {
      const address = addresses[eni[1]];
      if (!address) throw new Error(`No test address for ${eni[1]}`);
      return address;
    }
    if (/^floor\(\(data\.aws_ec2_instance_type\.[^.]+\.memory_size \* 0\.7\)\)$/.test(expr)) return String(maxMemoryMb);
    if (/^aws_ssm_parameter\.[^.]+\.name$/.test(expr)) return "/test/redis/password";
    throw new Error(`Unexpected Terraform reference in user data: ${whole}`);
  });
}
