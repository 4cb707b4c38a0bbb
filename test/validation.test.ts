import { TerraformStack, TerraformVariable, Token } from "cdktf";
import { RedisPassword, RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError, TlsCertificateAuthoritySlot } from "../lib";
import { newStack, synthJson, warningsOf } from "./helpers";

const BASE: RedisReplicationGroupProps = { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"] };

/** Builds a group in a fresh stack "test" and synthesizes it. */
function build(props: Partial<RedisReplicationGroupProps>, configure: (g: RedisReplicationGroup) => void = () => {}) {
  const stack = newStack("test");
  const group = new RedisReplicationGroup(stack, "redis", { ...BASE, ...props });
  configure(group);
  synthJson(stack);
  return group;
}

/** The error a build throws, or undefined. */
function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("bad props fail synth with a RedisReplicationValidationError naming path, prop, value and limit", () => {
  test.each<{ case: string; build: () => unknown; message: RegExp }>([
    { case: "replicaCount 1.5", build: () => build({ replicaCount: 1.5 }), message: /^\[test\/redis\] replicaCount must be a whole number from 0 to 15, got 1\.5$/ },
    { case: "replicaCount -1", build: () => build({ replicaCount: -1 }), message: /^\[test\/redis\] replicaCount .*from 0 to 15, got -1$/ },
    { case: "replicaCount 16", build: () => build({ replicaCount: 16 }), message: /^\[test\/redis\] replicaCount .*from 0 to 15, got 16$/ },
    { case: "subnetIds []", build: () => build({ subnetIds: [] }), message: /^\[test\/redis\] subnetIds must name at least one entry, got an empty list$/ },
    { case: "redis.port 0", build: () => build({ redis: { port: 0 } }), message: /^\[test\/redis\] redis\.port must be a whole number from 1 to 65535, got 0$/ },
    { case: "redis.port 70000", build: () => build({ redis: { port: 70000 } }), message: /^\[test\/redis\] redis\.port .*from 1 to 65535, got 70000$/ },
    {
      case: "sentinel.port equal to redis.port",
      build: () => build({ redis: { port: 7000 }, sentinel: { port: 7000 } }),
      message: /^\[test\/redis\] (redis\.port and sentinel\.port|sentinel\.port and redis\.port) must differ, both are 7000$/,
    },
    { case: "tcpBacklog 0", build: () => build({ redis: { tcpBacklog: 0 } }), message: /^\[test\/redis\] redis\.tcpBacklog must be a whole number from 1 to 65535, got 0$/ },
    { case: "maxClients -5", build: () => build({ redis: { maxClients: -5 } }), message: /^\[test\/redis\] redis\.maxClients must be a whole number from 1 to \d+, got -5$/ },
    {
      case: "allowedCidrs 10.0.0.0/33",
      build: () => build({ allowedCidrs: ["10.0.0.0/33"] }),
      message: /^\[test\/redis\] allowedCidrs\[0\] "10\.0\.0\.0\/33" is not a valid CIDR: the prefix length must be 0-32$/,
    },
    {
      case: "allowedCidrs 10.0.0.1/16",
      build: () => build({ allowedCidrs: ["10.0.0.1/16"] }),
      message: /^\[test\/redis\] allowedCidrs\[0\] "10\.0\.0\.1\/16" is not a valid CIDR: host bits are set; the network address is 10\.0\.0\.0\/16$/,
    },
    {
      case: "allowedCidrs banana",
      build: () => build({ allowedCidrs: ["banana"] }),
      message: /^\[test\/redis\] allowedCidrs\[0\] "banana" is not a valid CIDR: expected an IPv4 CIDR block such as 10\.0\.0\.0\/16$/,
    },
    ...["12 mb", "1tb", "-1"].map((maxMemory) => ({
      case: `maxMemory "${maxMemory}"`,
      build: () => build({ redis: { maxMemory } }),
      message: new RegExp(`^\\[test/redis\\] redis\\.maxMemory "${maxMemory}" is not a memory size Redis accepts: use a whole number with an optional unit b, k, kb, m, mb, g or gb`),
    })),
    {
      case: 'replBacklogSize "1k" (below 16kb)',
      build: () => build({ redis: { replBacklogSize: "1k" } }),
      message: /^\[test\/redis\] redis\.replBacklogSize must be at least 16384 bytes, got "1k"$/,
    },
    {
      case: 'snapshotSchedule "3600"',
      build: () => build({ redis: { snapshotSchedule: "3600" } }),
      message: /^\[test\/redis\] redis\.snapshotSchedule "3600" is invalid: expected pairs of positive whole numbers/,
    },
    {
      case: "sentinel quorum larger than the sentinel count",
      build: () => build({ sentinel: { quorum: 4 } }),
      message: /^\[test\/redis\] sentinel\.quorum must be at most the number of sentinels \(3\), got 4/,
    },
    {
      case: "fewer than 3 sentinels",
      build: () => build({ replicaCount: 1 }),
      message: /^\[test\/redis\] .*replicaCount.* gives 2 sentinel\(s\); at least 3 are needed.*sentinel\.allowFewerThanThreeSentinels/,
    },
    {
      case: "fewer than 3 dedicated sentinels",
      build: () => build({ sentinel: { dedicatedNodeCount: 2 } }),
      message: /^\[test\/redis\] sentinel\.dedicatedNodeCount gives 2 sentinel\(s\); at least 3 are needed/,
    },
    {
      case: "downAfterMilliseconds 500",
      build: () => build({ sentinel: { downAfterMilliseconds: 500 } }),
      message: /^\[test\/redis\] sentinel\.downAfterMilliseconds must be a whole number from 1000 to 3600000, got 500$/,
    },
    {
      // Below 3 s a failover could give up on a promotion that Sentinel sees only at its next INFO, a second later.
      case: "failoverTimeoutMilliseconds 2000",
      build: () => build({ sentinel: { failoverTimeoutMilliseconds: 2000 } }),
      message: /^\[test\/redis\] sentinel\.failoverTimeoutMilliseconds must be a whole number from 3000 to 600000, got 2000$/,
    },
    {
      // A split first vote costs 2 x failover-timeout: above 10 minutes, over 20 minutes without a master.
      case: "failoverTimeoutMilliseconds 900000",
      build: () => build({ sentinel: { failoverTimeoutMilliseconds: 900000 } }),
      message: /^\[test\/redis\] sentinel\.failoverTimeoutMilliseconds must be a whole number from 3000 to 600000, got 900000$/,
    },
    {
      case: 'masterName "bad name"',
      build: () => build({ sentinel: { masterName: "bad name" } }),
      message: /^\[test\/redis\] sentinel\.masterName "bad name" is invalid: use 1-64 letters, digits, '\.', '_' or '-'/,
    },
    {
      case: "replicaPriorities of the wrong length",
      build: () => build({ replicaCount: 2, replicaPriorities: [100, 100] }),
      message: /^\[test\/redis\] replicaPriorities must have one entry per data node \(1 master \+ 2 replicas = 3\), got 2$/,
    },
    {
      case: "password from an SSM ARN that is not one",
      build: () => build({ password: RedisPassword.fromSsmParameterArn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:x") }),
      message: /^\[test\/redis\] password: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x" is not an ARN of an SSM parameter \(arn:aws:ssm:<region>:<account>:\.\.\.\)$/,
    },
    {
      case: "minReplicasToWrite above replicaCount",
      build: () => build({ replicaCount: 2, redis: { minReplicasToWrite: 3 } }),
      message: /^\[test\/redis\] redis\.minReplicasToWrite must be at most replicaCount \(2\), got 3: the master would refuse every write$/,
    },
    {
      case: "vpcId that is a name",
      build: () => build({ vpcId: "main-vpc" }),
      message: /^\[test\/redis\] vpcId "main-vpc" is invalid: expected an id such as vpc-0123456789abcdef0$/,
    },
    {
      case: "a subnet CIDR instead of its id",
      build: () => build({ subnetIds: ["subnet-a", "10.0.1.0/24"] }),
      message: /^\[test\/redis\] subnetIds\[1\] "10\.0\.1\.0\/24" is invalid: expected an id such as subnet-0123456789abcdef0$/,
    },
    {
      case: "allowedSecurityGroupIds with an ARN",
      build: () => build({ allowedSecurityGroupIds: ["arn:aws:ec2:eu-west-1:123456789012:security-group/sg-1"] }),
      message: /^\[test\/redis\] allowedSecurityGroupIds\[0\] "arn:aws:ec2:.*" is invalid: expected an id such as sg-0123456789abcdef0$/,
    },
    {
      case: 'instanceType "t3-medium"',
      build: () => build({ instanceType: "t3-medium" }),
      message: /^\[test\/redis\] instanceType "t3-medium" is invalid: expected an EC2 instance type such as t3\.medium or r7g\.large$/,
    },
    {
      case: "a user named like one of the library's",
      build: () => build({ users: [{ name: "admin" }] }),
      message: /^\[test\/redis\] users\[0\]\.name "admin" is taken by the library \(default, replication, sentinel, sentinel-peer, sentinel-client, admin, monitor, node-handover, node-ops\)$/,
    },
    {
      case: "a user name with a space",
      build: () => build({ users: [{ name: "web app" }] }),
      message: /^\[test\/redis\] users\[0\]\.name "web app" is invalid: use 1-64 letters, digits, '-' or '_', starting with a letter$/,
    },
    {
      case: "the same user twice",
      build: () => build({ users: [{ name: "web" }, { name: "web" }] }),
      message: /^\[test\/redis\] users\[1\]\.name "web" is given twice$/,
    },
    {
      case: "a typo in an ACL category",
      build: () => build({ users: [{ name: "web", extraRules: ["+@raed"] }] }),
      message: /^\[test\/redis\] users\[0\]\.extraRules\[0\]: unknown ACL category "@raed"/,
    },
    {
      case: "a typo in an ACL command",
      build: () => build({ users: [{ name: "web", extraRules: ["+gte"] }] }),
      message: /^\[test\/redis\] users\[0\]\.extraRules\[0\]: unknown command "gte" in "\+gte"/,
    },
    {
      case: "a password given to an ACL rule",
      build: () => build({ users: [{ name: "web", extraRules: [">hunter2"] }] }),
      message: /^\[test\/redis\] users\[0\]\.extraRules\[0\]: ">hunter2" is not allowed here/,
    },
    {
      case: "a key pattern with a space",
      build: () => build({ users: [{ name: "web", keyPatterns: ["web *"] }] }),
      message: /^\[test\/redis\] users\[0\]\.keyPatterns\[0\] "web \*" is invalid: a pattern is one word without spaces$/,
    },
    {
      case: "password and users together",
      build: () => build({ password: RedisPassword.generated(), users: [{ name: "web" }] }),
      message: /^\[test\/redis\] password is the password of the default user "app"; with users, give each user its password in users\[i\]\.password$/,
    },
    {
      case: "no application user",
      build: () => build({ users: [] }),
      message: /^\[test\/redis\] users must name at least one application user, got an empty list$/,
    },
    {
      case: "client certificates required with TLS off",
      build: () => build({ tls: { enabled: false, requireClientCertificates: true } }),
      message: /^\[test\/redis\] tls\.requireClientCertificates needs TLS: remove it, or leave tls\.enabled at its default \(true\)$/,
    },
    {
      case: "a CA rollover's settings with TLS off",
      build: () => build({ tls: { enabled: false, trustedCertificateAuthorities: [TlsCertificateAuthoritySlot.PRIMARY, TlsCertificateAuthoritySlot.SECONDARY] } }),
      message: /^\[test\/redis\] tls\.signingCertificateAuthority and tls\.trustedCertificateAuthorities need TLS: remove them, or leave tls\.enabled at its default \(true\)$/,
    },
    {
      case: "a signing CA that the nodes do not trust",
      build: () => build({ tls: { signingCertificateAuthority: TlsCertificateAuthoritySlot.SECONDARY, trustedCertificateAuthorities: [TlsCertificateAuthoritySlot.PRIMARY] } }),
      message: /^\[test\/redis\] tls\.trustedCertificateAuthorities \(primary\) must include the signing CA \(secondary\): the nodes would refuse each other's certificates$/,
    },
    {
      case: "no trusted CA at all",
      build: () => build({ tls: { trustedCertificateAuthorities: [] } }),
      message: /^\[test\/redis\] tls\.trustedCertificateAuthorities \(none\) must include the signing CA \(primary\)/,
    },
    {
      case: "a trusted CA twice, and one that does not exist (a string from another language)",
      build: () => build({ tls: { trustedCertificateAuthorities: [TlsCertificateAuthoritySlot.PRIMARY, TlsCertificateAuthoritySlot.PRIMARY, "tertiary" as TlsCertificateAuthoritySlot] } }),
      message: /^\[test\/redis\] 2 problems:\n {2}- tls certificate authority "tertiary" is unknown: use one of primary, secondary\n {2}- tls\.trustedCertificateAuthorities lists a CA twice: primary, primary, tertiary$/,
    },
    { case: "ioThreads 0", build: () => build({ redis: { ioThreads: 0 } }), message: /^\[test\/redis\] redis\.ioThreads must be a whole number from 1 to 128, got 0$/ },
    { case: "ioThreads 129", build: () => build({ tls: { enabled: false }, redis: { ioThreads: 129 } }), message: /^\[test\/redis\] redis\.ioThreads must be a whole number from 1 to 128, got 129$/ },
    {
      case: "ioThreads 4 with TLS (on by default)",
      build: () => build({ redis: { ioThreads: 4 } }),
      message: /^\[test\/redis\] redis\.ioThreads must be 1 with TLS \(Redis 7\.0's threaded I\/O does not work with TLS\), got 4: leave it unset, or set tls\.enabled false$/,
    },
    {
      case: "cpuPinning.server with a bad range",
      build: () => build({ redis: { cpuPinning: { server: "0-x" } } }),
      message: /^\[test\/redis\] redis\.cpuPinning\.server "0-x" is not a CPU list: "0-x" is not a CPU, a range such as 0-3, or a range with a stride such as 1-7:2$/,
    },
    {
      case: "cpuPinning.bgsave with a range backwards",
      build: () => build({ redis: { cpuPinning: { bgsave: "1,3-2" } } }),
      message: /^\[test\/redis\] redis\.cpuPinning\.bgsave "1,3-2" is not a CPU list: the range "3-2" ends before it starts$/,
    },
    {
      case: "an extra directive the library owns (bind)",
      build: () => build({ redis: { extraDirectives: { bind: "0.0.0.0" } } }),
      message: /^\[test\/redis\] redis\.extraDirectives "bind" is set by the library \(bind, port, auth, replication, ACL, TLS.*cannot be overridden\): use the prop that models it, if there is one$/,
    },
    {
      case: "extra directives owned under another spelling (SLAVEOF, a tls-* one)",
      build: () => build({ redis: { extraDirectives: { SLAVEOF: "10.0.0.9 6379", "tls-ciphers": "DEFAULT" } } }),
      message: /^\[test\/redis\] 2 problems:\n {2}- redis\.extraDirectives "SLAVEOF" is set by the library .*\n {2}- redis\.extraDirectives "tls-ciphers" is set by the library .*tls-\* directives/,
    },
    {
      case: "an extra directive that would add a password",
      build: () => build({ redis: { extraDirectives: { requirepass: "x" } } }),
      message: /^\[test\/redis\] redis\.extraDirectives "requirepass" is set by the library/,
    },
    {
      case: "an extra directive name that is no directive name",
      build: () => build({ redis: { extraDirectives: { "hz 10\nbind": "1" } } }),
      message: /^\[test\/redis\] redis\.extraDirectives name "hz 10\nbind" is not a redis\.conf directive name: use a letter, then up to 63 letters, digits, '-' or '_'$/,
    },
    {
      case: "an extra directive value with a newline",
      build: () => build({ redis: { extraDirectives: { hz: "10\nbind 0.0.0.0" } } }),
      message: /^\[test\/redis\] redis\.extraDirectives\["hz"\] must not contain control characters such as a newline, got "10\\nbind 0\.0\.0\.0"$/,
    },
    {
      case: "the same extra directive in two cases",
      build: () => build({ redis: { extraDirectives: { hz: "10", HZ: "20" } } }),
      message: /^\[test\/redis\] redis\.extraDirectives names "hz" and "HZ": Redis reads names in any case, so they are the same directive$/,
    },
    {
      case: "generated password of length 8",
      build: () => build({ password: RedisPassword.generated({ length: 8 }) }),
      message: /^\[test\/redis\] password length must be a whole number from 16 to 128, got 8$/,
    },
  ])("$case", ({ build: run, message }) => {
    const error = errorOf(run);
    expect(error).toBeInstanceOf(RedisReplicationValidationError);
    expect((error as Error).message).toMatch(message);
  });
});

describe("the data volume: gp3's limits, and room for the dataset twice", () => {
  test.each<{ case: string; dataVolume: RedisReplicationGroupProps["dataVolume"]; maxMemory?: string; message: RegExp }>([
    { case: "sizeGiB 0", dataVolume: { sizeGiB: 0 }, message: /^\[test\/redis\] dataVolume\.sizeGiB must be a whole number from 1 to 16384, got 0$/ },
    { case: "sizeGiB 16385", dataVolume: { sizeGiB: 16385 }, message: /^\[test\/redis\] dataVolume\.sizeGiB must be a whole number from 1 to 16384, got 16385$/ },
    { case: "iops 2999", dataVolume: { iops: 2999 }, message: /^\[test\/redis\] dataVolume\.iops must be a whole number from 3000 to 16000, got 2999$/ },
    { case: "iops 16001", dataVolume: { sizeGiB: 40, iops: 16001 }, message: /^\[test\/redis\] dataVolume\.iops must be a whole number from 3000 to 16000, got 16001$/ },
    { case: "throughput 124", dataVolume: { throughputMiBps: 124 }, message: /^\[test\/redis\] dataVolume\.throughputMiBps must be a whole number from 125 to 1000, got 124$/ },
    {
      case: "throughput 1001",
      dataVolume: { sizeGiB: 40, iops: 5000, throughputMiBps: 1001 },
      message: /^\[test\/redis\] dataVolume\.throughputMiBps must be a whole number from 125 to 1000, got 1001$/,
    },
    {
      case: "12000 IOPS on the default 20 GiB (over 500 per GiB)",
      dataVolume: { iops: 12000 },
      message: /^\[test\/redis\] dataVolume\.iops 12000 needs a volume of at least 24 GiB \(gp3: at most 500 IOPS per GiB above 3000\), got sizeGiB 20$/,
    },
    {
      case: "800 MiB/s with the default 3000 IOPS (over IOPS / 4)",
      dataVolume: { throughputMiBps: 800 },
      message: /^\[test\/redis\] dataVolume\.throughputMiBps 800 needs at least 3200 IOPS \(gp3: at most 0\.25 MiB\/s per IOPS\), got iops 3000$/,
    },
    {
      case: 'a 10 GiB volume for maxMemory "8gb"',
      dataVolume: { sizeGiB: 10 },
      maxMemory: "8gb",
      message: /^\[test\/redis\] dataVolume\.sizeGiB 10 cannot hold redis\.maxMemory "8gb" twice \(BGSAVE and AOF rewrites write the new file before they remove the old one\): use at least 16, or a smaller maxMemory$/,
    },
    {
      case: 'the default 20 GiB for maxMemory "12gb"',
      dataVolume: {},
      maxMemory: "12gb",
      message: /^\[test\/redis\] dataVolume\.sizeGiB 20 cannot hold redis\.maxMemory "12gb" twice .*: use at least 24, or a smaller maxMemory$/,
    },
    {
      case: "a KMS alias instead of a key ARN",
      dataVolume: { kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:alias/redis" },
      message: /^\[test\/redis\] dataVolume\.kmsKeyArn "arn:aws:kms:eu-west-1:123456789012:alias\/redis" is invalid: expected a KMS key ARN such as arn:aws:kms:/,
    },
    {
      case: "settings of a volume that is turned off",
      dataVolume: { enabled: false, sizeGiB: 50, preventDestroy: false },
      message: /^\[test\/redis\] dataVolume\.sizeGiB, dataVolume\.preventDestroy has no effect with dataVolume\.enabled false$/,
    },
    {
      case: "the instance store asked for with the data volume turned off",
      dataVolume: { enabled: false, instanceStore: true },
      message: /^\[test\/redis\] dataVolume\.instanceStore has no effect with dataVolume\.enabled false$/,
    },
    {
      case: "an EBS volume's settings with the instance store",
      dataVolume: { instanceStore: true, sizeGiB: 100, kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" },
      message: /^\[test\/redis\] dataVolume\.sizeGiB, dataVolume\.kmsKeyArn has no effect with dataVolume\.instanceStore \(the instance type sets the disk's size and speed\)$/,
    },
  ])("$case", ({ dataVolume, maxMemory, message }) => {
    const error = errorOf(() => build({ dataVolume, redis: { maxMemory } }));
    expect(error).toBeInstanceOf(RedisReplicationValidationError);
    expect((error as Error).message).toMatch(message);
  });

  test.each<{ case: string; dataVolume: RedisReplicationGroupProps["dataVolume"]; maxMemory?: string }>([
    { case: "gp3's maximum IOPS on 32 GiB", dataVolume: { sizeGiB: 32, iops: 16000 } },
    { case: "the 3000 IOPS baseline on a 1 GiB volume", dataVolume: { sizeGiB: 1 } },
    { case: "1000 MiB/s with 4000 IOPS", dataVolume: { sizeGiB: 8, iops: 4000, throughputMiBps: 1000 } },
    { case: 'exactly twice maxMemory "8gb"', dataVolume: { sizeGiB: 16 }, maxMemory: "8gb" },
    { case: 'maxMemory "0" (no limit: checked at plan)', dataVolume: { sizeGiB: 1 }, maxMemory: "0" },
    { case: "a KMS key ARN in another partition", dataVolume: { kmsKeyArn: "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" } },
    { case: "a large maxMemory without a data volume", dataVolume: { enabled: false }, maxMemory: "100gb" },
  ])("accepts $case", ({ dataVolume, maxMemory }) => {
    expect(() => build({ dataVolume, redis: { maxMemory } })).not.toThrow();
  });

  test("tokens are Terraform's to check", () => {
    const stack = newStack("test");
    const number = (name: string) => new TerraformVariable(stack, name, { type: "number" }).numberValue;
    const group = () =>
      new RedisReplicationGroup(stack, "redis", {
        ...BASE,
        redis: { maxMemory: "64gb" },
        dataVolume: { sizeGiB: number("size"), iops: number("iops"), throughputMiBps: number("throughput"), kmsKeyArn: new TerraformVariable(stack, "key", {}).stringValue },
      });
    expect(group).not.toThrow();
    const volume = Object.values(synthJson(stack).resource.aws_ebs_volume)[0] as Record<string, unknown>;
    expect(volume).toMatchObject({ size: "${var.size}", iops: "${var.iops}", throughput: "${var.throughput}", kms_key_id: "${var.key}" });
    // The size is a token, so the literal maxmemory is checked at plan.
    expect(JSON.stringify(volume)).toContain("((var.size * 1024) >= (2 * 65536))");
  });
});

describe("Sentinel count", () => {
  test("fewer than 3 sentinels are accepted with allowFewerThanThreeSentinels", () => {
    expect(() => build({ replicaCount: 1, sentinel: { allowFewerThanThreeSentinels: true } })).not.toThrow();
    expect(() => build({ replicaCount: 0, sentinel: { allowFewerThanThreeSentinels: true } })).not.toThrow();
  });

  test("an even count is a warning, not an error", () => {
    const group = build({ replicaCount: 3 });
    expect(warningsOf(group)).toEqual([expect.stringMatching(/^4 sentinels: an even count tolerates no more failures than 3; prefer an odd number$/)]);
  });

  test("an odd count gives no warning", () => {
    expect(warningsOf(build({ replicaCount: 2 }))).toEqual([]);
  });
});

describe("unresolved tokens are Terraform's to check", () => {
  test("number, string and list tokens are accepted and land in the configuration", () => {
    const stack: TerraformStack = newStack("test");
    const number = (name: string) => new TerraformVariable(stack, name, { type: "number" }).numberValue;
    const text = (name: string) => new TerraformVariable(stack, name, { type: "string" }).stringValue;
    const subnets = new TerraformVariable(stack, "subnets", { type: "list(string)" }).listValue;
    const build = () =>
      new RedisReplicationGroup(stack, "redis", {
        vpcId: text("vpc"),
        subnetIds: subnets,
        allowedCidrs: [text("cidr")],
        allowedSecurityGroupIds: [text("app_sg")],
        instanceType: text("instance_type"),
        replicaPriorities: [Token.asNumber(text("p0")), 100, 100],
        redis: {
          port: number("redis_port"),
          tcpBacklog: number("backlog"),
          maxClients: Token.asNumber(text("clients")),
          maxMemory: Token.asString(text("memory")),
          replBacklogSize: text("backlog_size"),
          snapshotSchedule: text("save"),
          ioThreads: number("io_threads"),
          cpuPinning: { server: text("server_cpus") },
          extraDirectives: { hz: text("hz") },
        },
        tls: { enabled: false },
        sentinel: {
          port: number("sentinel_port"),
          quorum: number("quorum"),
          masterName: text("master_name"),
        },
      });
    expect(build).not.toThrow();
    const json = JSON.stringify(synthJson(stack));
    for (const v of ["redis_port", "sentinel_port", "backlog", "clients", "memory", "save", "quorum", "master_name", "cidr", "subnets", "app_sg", "instance_type", "io_threads", "server_cpus", "hz"]) {
      expect(json).toContain(`var.${v}`);
    }
  });
});

describe("every problem at once", () => {
  test("three bad props give one error that lists each, with the messages of a single problem", () => {
    const error = errorOf(() => build({ replicaCount: 16, vpcId: "main-vpc", redis: { port: 0 } }));
    expect(error).toBeInstanceOf(RedisReplicationValidationError);
    expect((error as RedisReplicationValidationError).problems).toEqual([
      "replicaCount must be a whole number from 0 to 15, got 16",
      'vpcId "main-vpc" is invalid: expected an id such as vpc-0123456789abcdef0',
      "redis.port must be a whole number from 1 to 65535, got 0",
    ]);
    expect((error as Error).message).toBe(
      [
        "[test/redis] 3 problems:",
        "  - replicaCount must be a whole number from 0 to 15, got 16",
        '  - vpcId "main-vpc" is invalid: expected an id such as vpc-0123456789abcdef0',
        "  - redis.port must be a whole number from 1 to 65535, got 0",
      ].join("\n"),
    );
  });

  test("a password problem is reported with the others", () => {
    const error = errorOf(() => build({ instanceType: "t3-medium", password: RedisPassword.generated({ length: 8, kmsKeyArn: "alias/redis" }) }));
    expect((error as RedisReplicationValidationError).problems).toEqual([
      expect.stringMatching(/^instanceType "t3-medium" is invalid/),
      expect.stringMatching(/^password kmsKeyArn "alias\/redis" is not a KMS key ARN/),
      "password length must be a whole number from 16 to 128, got 8",
    ]);
  });

  test("a replicaCount token is refused: the plan needs the node count", () => {
    const stack = newStack("test");
    const count = new TerraformVariable(stack, "count", { type: "number" }).numberValue;
    expect(() => new RedisReplicationGroup(stack, "redis", { ...BASE, replicaCount: count })).toThrow(
      /^\[test\/redis\] replicaCount must be a literal number, not a token$/,
    );
  });

  test("Sentinel's timing tokens are refused: synth derives the crash restart delay from them", () => {
    const stack = newStack("test");
    const downAfter = new TerraformVariable(stack, "down", { type: "number" }).numberValue;
    const failoverTimeout = new TerraformVariable(stack, "timeout", { type: "number" }).numberValue;
    const thrown = (() => {
      try {
        new RedisReplicationGroup(stack, "redis", { ...BASE, sentinel: { downAfterMilliseconds: downAfter, failoverTimeoutMilliseconds: failoverTimeout } });
      } catch (e) {
        return (e as Error).message.split("\n");
      }
      return [];
    })();
    expect(thrown).toEqual([
      "[test/redis] 2 problems:",
      expect.stringMatching(/sentinel\.downAfterMilliseconds must be a literal number, not a token: the crash restart delay, the role decision's wait and min-replicas-max-lag are derived from it at synth$/),
      expect.stringMatching(/sentinel\.failoverTimeoutMilliseconds must be a literal number, not a token: the crash restart delay and the role decision's wait are derived from it at synth$/),
    ]);
  });
});
