// The integration suite trusts these helpers to hand it exactly what a node
// would receive; this checks them without root or Redis.
import { bootAsset, BOOT_SCRIPT_PATH, COMMON_SCRIPT_PATH, embeddedShell, libraryPathOnNode } from "../../lib/boot";
import { resolveReferences, synthesizeBasicExample, testVolumeId } from "./synthesized-nodes";

const TEMPLATES = ["/etc/redis-node/redis.conf.template", "/etc/redis-node/sentinel.conf.template"];

describe("synthesized example nodes", () => {
  const example = synthesizeBasicExample();
  const addresses = Object.fromEntries(example.nodes.map((n, i) => [n.eni, `192.0.2.${10 + i}`]));

  test("three named nodes, each on its own ENI", () => {
    expect(example.nodes.map((n) => n.name).sort()).toEqual(["master", "replica-1", "replica-2"]);
    expect(new Set(example.nodes.map((n) => n.eni)).size).toBe(3);
  });

  test("every file resolves completely; the boot scripts come back byte for byte as embedded (without comment lines)", () => {
    for (const node of example.nodes) {
      for (const file of Object.keys(node.files)) {
        const text = resolveReferences(node.files[file], addresses, 256);
        expect(text).not.toMatch(/\$\{(aws_|data\.)/);
      }
      expect(resolveReferences(node.files[BOOT_SCRIPT_PATH], addresses, 256)).toBe(embeddedShell(bootAsset("bootstrap.sh")));
      expect(resolveReferences(node.files[COMMON_SCRIPT_PATH], addresses, 256)).toBe(embeddedShell(bootAsset("common.sh")));
      // The library comes with its comments: it is not in the user data.
      expect(resolveReferences(node.files[libraryPathOnNode("boot.sh")], addresses, 256)).toBe(bootAsset("boot.sh"));
      for (const template of TEMPLATES) {
        expect(resolveReferences(node.files[template], addresses, 256)).toContain(`bind ${addresses[node.eni]} 127.0.0.1`);
      }
    }
  });

  test("resolveReferences follows Terraform: escapes, known references, errors on anything else", () => {
    const eni = example.nodes[0].eni;
    expect(resolveReferences(`a $\${HOME} %%{x} \${${eni}.private_ip}`, addresses, 1)).toBe(`a \${HOME} %{x} ${addresses[eni]}`);
    expect(() => resolveReferences("${aws_instance.x.private_ip}", addresses, 1)).toThrow(/Unexpected Terraform reference/);
    expect(() => resolveReferences("${aws_network_interface.nope.private_ip}", addresses, 1)).toThrow(/No test address/);
    expect(() => resolveReferences("%{ if true }", addresses, 1)).toThrow(/directive/);
    // A data volume's id: EC2's shape, one per address, the same every time.
    const volume = resolveReferences("${aws_ebs_volume.redis_master_data-volume_ebs_0123ABCD.id}", addresses, 1);
    expect(volume).toMatch(/^vol-[0-9a-f]{17}$/);
    expect(volume).toBe(testVolumeId("aws_ebs_volume.redis_master_data-volume_ebs_0123ABCD"));
    expect(testVolumeId("aws_ebs_volume.other")).not.toBe(volume);
  });

  test("ingress rules: redis and sentinel ports from the group itself and from the app group", () => {
    const rules = example.ingress.map((r) => `${r.port} ${r.source}`).sort();
    const app = example.appSecurityGroupRef;
    expect(rules).toEqual([`26379 ${app}`, "26379 self", `6379 ${app}`, "6379 self"]);
  });
});
