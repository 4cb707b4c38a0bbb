// The planner is pure: props in, node specs out, no construct created.
import { CpuArchitecture } from "../../lib/private/architecture";
import { NodeKind, planGroup, validateGroupProps } from "../../lib/private/planner";
import { RedisTlsOptions, TlsCertificateAuthoritySlot } from "../../lib/auth/tls-options";

const BASE = { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"] };
const summary = (props: Parameters<typeof planGroup>[0]) =>
  planGroup(props).nodes.map((n) => [n.id, n.kind, n.subnetIndex, n.instanceType, n.architecture, n.runsRedis, n.runsSentinel, n.replicaPriority ?? null]);

describe("planGroup", () => {
  test("defaults: a master and two replicas, each running a sentinel, quorum 2", () => {
    const plan = planGroup(BASE);
    expect(summary(BASE)).toEqual([
      ["master", NodeKind.MASTER, 0, "t3.medium", CpuArchitecture.AMD64, true, true, null],
      ["replica-1", NodeKind.REPLICA, 1, "t3.medium", CpuArchitecture.AMD64, true, true, null],
      ["replica-2", NodeKind.REPLICA, 2, "t3.medium", CpuArchitecture.AMD64, true, true, null],
    ]);
    expect(plan).toMatchObject({ sentinelCount: 3, quorum: 2, masterName: "main", redisPort: 6379, sentinelPort: 26379, crashRestartDelaySeconds: 36 });
    expect(plan.redis.minReplicasToWrite).toBe(1);
    expect(plan.warnings).toEqual([]);
  });

  test("per-node priorities instead of a parallel array downstream; dedicated sentinels of their own type", () => {
    const props = { ...BASE, instanceType: "r7g.large", replicaPriorities: [10, 20, 0], sentinel: { dedicatedNodeCount: 3, downAfterMilliseconds: 20000 } };
    expect(summary(props)).toEqual([
      ["master", NodeKind.MASTER, 0, "r7g.large", CpuArchitecture.ARM64, true, false, 10],
      ["replica-1", NodeKind.REPLICA, 1, "r7g.large", CpuArchitecture.ARM64, true, false, 20],
      ["replica-2", NodeKind.REPLICA, 2, "r7g.large", CpuArchitecture.ARM64, true, false, 0],
      ["sentinel-1", NodeKind.SENTINEL, 0, "t3.micro", CpuArchitecture.AMD64, false, true, null],
      ["sentinel-2", NodeKind.SENTINEL, 1, "t3.micro", CpuArchitecture.AMD64, false, true, null],
      ["sentinel-3", NodeKind.SENTINEL, 2, "t3.micro", CpuArchitecture.AMD64, false, true, null],
    ]);
    expect(planGroup(props).crashRestartDelaySeconds).toBe(51);
  });

  test("Sentinel off: no sentinel anywhere, no restart delay, no even-count warning", () => {
    const plan = planGroup({ ...BASE, replicaCount: 1, sentinel: { enabled: false, dedicatedNodeCount: 3 } });
    expect(plan.nodes.map((n) => [n.id, n.runsSentinel])).toEqual([["master", false], ["replica-1", false]]);
    expect(plan).toMatchObject({ sentinelCount: 0, crashRestartDelaySeconds: undefined, warnings: [] });
  });

  test("a data volume on each data node, with gp3's baseline by default; none on dedicated sentinels, none when turned off", () => {
    const volumes = (props: Parameters<typeof planGroup>[0]) => planGroup(props).nodes.map((n) => [n.id, n.dataVolume ?? null]);
    const defaults = { kind: "ebs", sizeGiB: 20, iops: 3000, throughputMiBps: 125, kmsKeyArn: undefined, preventDestroy: true };
    expect(volumes({ ...BASE, replicaCount: 1, sentinel: { dedicatedNodeCount: 3 } })).toEqual([
      ["master", defaults],
      ["replica-1", defaults],
      ["sentinel-1", null],
      ["sentinel-2", null],
      ["sentinel-3", null],
    ]);
    expect(volumes({ ...BASE, dataVolume: { sizeGiB: 100, iops: 9000, preventDestroy: false } })[2]).toEqual([
      "replica-2",
      { kind: "ebs", sizeGiB: 100, iops: 9000, throughputMiBps: 125, kmsKeyArn: undefined, preventDestroy: false },
    ]);
    expect(volumes({ ...BASE, dataVolume: { enabled: false } }).map(([, v]) => v)).toEqual([null, null, null]);
    expect(volumes({ ...BASE, replicaCount: 1, sentinel: { dedicatedNodeCount: 3 }, dataVolume: { instanceStore: true } }).map(([, v]) => v)).toEqual([
      { kind: "instance-store" },
      { kind: "instance-store" },
      null,
      null,
      null,
    ]);
  });

  test("validateGroupProps collects; a valid group has no problem", () => {
    expect(validateGroupProps(BASE).count).toBe(0);
    expect(validateGroupProps({ ...BASE, replicaCount: 1, sentinel: { quorum: 5 } }).count).toBe(2);
  });

  test("TLS: on by default, client certificates optional; off is a warning; client certificates need TLS", () => {
    const primaryOnly = { signingCertificateAuthority: "primary", trustedCertificateAuthorities: ["primary"] };
    expect(planGroup(BASE).tls).toEqual({ enabled: true, requireClientCertificates: false, ...primaryOnly });
    expect(planGroup({ ...BASE, tls: { requireClientCertificates: true } }).tls).toEqual({ enabled: true, requireClientCertificates: true, ...primaryOnly });
    const off = planGroup({ ...BASE, tls: { enabled: false } });
    expect(off.tls).toEqual({ enabled: false, requireClientCertificates: false, ...primaryOnly });
    expect(off.warnings).toEqual([expect.stringMatching(/clear text/)]);
    expect(validateGroupProps({ ...BASE, tls: { enabled: false, requireClientCertificates: true } }).count).toBe(1);
    expect(validateGroupProps({ ...BASE, tls: { enabled: false, requireClientCertificates: false } }).count).toBe(0);
  });

  test("TLS CAs: the signing one is trusted by default; a rollover's steps plan as given", () => {
    const { PRIMARY, SECONDARY } = TlsCertificateAuthoritySlot;
    const plan = (tls: RedisTlsOptions) => {
      const { signingCertificateAuthority, trustedCertificateAuthorities } = planGroup({ ...BASE, tls }).tls;
      return { signingCertificateAuthority, trustedCertificateAuthorities };
    };
    expect(plan({ trustedCertificateAuthorities: [PRIMARY, SECONDARY] })).toEqual({ signingCertificateAuthority: PRIMARY, trustedCertificateAuthorities: [PRIMARY, SECONDARY] });
    expect(plan({ signingCertificateAuthority: SECONDARY })).toEqual({ signingCertificateAuthority: SECONDARY, trustedCertificateAuthorities: [SECONDARY] });
    expect(validateGroupProps({ ...BASE, tls: { signingCertificateAuthority: SECONDARY, trustedCertificateAuthorities: [PRIMARY, SECONDARY] } }).count).toBe(0);
    expect(validateGroupProps({ ...BASE, tls: { signingCertificateAuthority: SECONDARY, trustedCertificateAuthorities: [PRIMARY] } }).count).toBe(1);
  });
});
