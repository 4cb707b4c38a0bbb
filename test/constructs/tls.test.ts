// TLS of a group: the CA and node certificates Terraform's tls provider
// makes, the parameters that carry them to the nodes, the node role's reads,
// the configs with and without TLS.
import { readFileSync } from "fs";
import { resolve } from "path";
import { Testing, TerraformOutput, TerraformProvider, TerraformStack, TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { RedisClientCertificate, RedisReplicationGroup, RedisReplicationGroupProps, RedisReplicationValidationError, TlsCertificateAuthoritySlot } from "../../lib";
import { CA_EARLY_RENEWAL_HOURS, CA_VALIDITY_HOURS, NODE_CERTIFICATE_EARLY_RENEWAL_HOURS, NODE_CERTIFICATE_VALIDITY_HOURS } from "../../lib/auth/certificate-authority";
import { TLS_PATHS, TLS_RENEW_UNIT, TLS_STEP_PATH } from "../../lib/boot";
import {
  cloudConfigFiles,
  nodeEnvVariable,
  nodeFilesOf,
  directiveArgs,
  eniAddressRef,
  logicalIdAt,
  newStack,
  parseCloudConfig,
  parseRedisConf,
  ParsedDirective,
  pathOfLogicalId,
  resources,
  synthJson,
  TerraformJson,
  userDataOf,
  warningsOf,
} from "../helpers";

const BASE: RedisReplicationGroupProps = { vpcId: "vpc-1", subnetIds: ["subnet-a", "subnet-b"] };
const NODES = ["master", "replica-1", "replica-2"];
const REDIS_CONF = "/etc/redis-node/redis.conf.template";
const SENTINEL_CONF = "/etc/redis-node/sentinel.conf.template";

function synthGroup(props: Partial<RedisReplicationGroupProps> = {}, stack: TerraformStack = newStack()) {
  const group = new RedisReplicationGroup(stack, "redis", { ...BASE, ...props });
  return { json: synthJson(stack), group, stack };
}

/** `${type.<logical id of path>.attribute}` */
const ref = (json: TerraformJson, type: string, path: string, attribute: string) => `\${${type}.${logicalIdAt(json, type, path)}.${attribute}}`;
const resourceAt = (json: TerraformJson, type: string, path: string) => resources(json, type)[logicalIdAt(json, type, path)];
const TLS_DIRECTIVES = ["tls-port", "tls-cert-file", "tls-key-file", "tls-ca-cert-file", "tls-replication", "tls-auth-clients", "tls-protocols", "tls-prefer-server-ciphers"];
const withoutTls = (parsed: ParsedDirective[]) => parsed.filter((d) => !d.name.startsWith("tls-") && d.name !== "port");

describe("TLS on (the default)", () => {
  const { json, group } = synthGroup();
  const userData = userDataOf(json);

  test("a CA per group: ECDSA P-256, self-signed, for signing certificates only, valid ten years", () => {
    expect(resourceAt(json, "tls_private_key", "redis/tls/ca-key")).toEqual({ algorithm: "ECDSA", ecdsa_curve: "P256" });
    expect(resourceAt(json, "tls_self_signed_cert", "redis/tls/ca-certificate")).toMatchObject({
      private_key_pem: ref(json, "tls_private_key", "redis/tls/ca-key", "private_key_pem"),
      is_ca_certificate: true,
      allowed_uses: ["cert_signing", "crl_signing"],
      validity_period_hours: CA_VALIDITY_HOURS,
    });
    expect(CA_VALIDITY_HOURS).toBe(87600);
    expect(Object.keys(resources(json, "tls_self_signed_cert"))).toHaveLength(1);
  });

  test.each(NODES)("%s: its own key, a request naming its ENI address, a certificate for server and client use, renewed early", (node) => {
    expect(resourceAt(json, "tls_private_key", `redis/tls/${node}/private-key`)).toEqual({ algorithm: "ECDSA", ecdsa_curve: "P256" });
    expect(resourceAt(json, "tls_cert_request", `redis/tls/${node}/certificate-request`)).toMatchObject({
      private_key_pem: ref(json, "tls_private_key", `redis/tls/${node}/private-key`, "private_key_pem"),
      ip_addresses: [eniAddressRef(json, `redis/${node}`)],
    });
    const certificate = resourceAt(json, "tls_locally_signed_cert", `redis/tls/${node}/certificate`);
    expect(certificate).toMatchObject({
      cert_request_pem: ref(json, "tls_cert_request", `redis/tls/${node}/certificate-request`, "cert_request_pem"),
      ca_private_key_pem: ref(json, "tls_private_key", "redis/tls/ca-key", "private_key_pem"),
      ca_cert_pem: ref(json, "tls_self_signed_cert", "redis/tls/ca-certificate", "cert_pem"),
      validity_period_hours: NODE_CERTIFICATE_VALIDITY_HOURS,
      early_renewal_hours: NODE_CERTIFICATE_EARLY_RENEWAL_HOURS,
    });
    expect(certificate.allowed_uses).toEqual(expect.arrayContaining(["server_auth", "client_auth", "digital_signature"]));
    expect(certificate.is_ca_certificate).toBeUndefined();
    expect(NODE_CERTIFICATE_EARLY_RENEWAL_HOURS).toBeGreaterThan(0);
    expect(NODE_CERTIFICATE_EARLY_RENEWAL_HOURS).toBeLessThan(NODE_CERTIFICATE_VALIDITY_HOURS);
  });

  test.each(NODES)("%s: the key in a SecureString parameter, the certificates in String parameters, named like the users' secrets", (node) => {
    expect(resourceAt(json, "aws_ssm_parameter", `redis/tls/${node}/key-parameter`)).toMatchObject({
      name: `/redis-replication/test/redis/tls/${node}/key`,
      type: "SecureString",
      value: ref(json, "tls_private_key", `redis/tls/${node}/private-key`, "private_key_pem"),
    });
    expect(resourceAt(json, "aws_ssm_parameter", `redis/tls/${node}/certificate-parameter`)).toMatchObject({
      name: `/redis-replication/test/redis/tls/${node}/certificate`,
      type: "String",
      value: ref(json, "tls_locally_signed_cert", `redis/tls/${node}/certificate`, "cert_pem"),
    });
  });

  test("the CA certificate: a parameter for the nodes, an attribute and an output for clients", () => {
    const caPem = ref(json, "tls_self_signed_cert", "redis/tls/ca-certificate", "cert_pem");
    expect(resourceAt(json, "aws_ssm_parameter", "redis/tls/ca-certificate-parameter")).toMatchObject({
      name: "/redis-replication/test/redis/tls/ca-certificate",
      type: "String",
      value: caPem,
    });
    expect(json.output["redis-ca-certificate"].value).toBe(caPem);
    // The attribute resolves to the same reference, also through attributes and an imported group.
    const stack = newStack();
    const fresh = new RedisReplicationGroup(stack, "redis", BASE);
    const imported = RedisReplicationGroup.fromAttributes(stack, "imported", fresh.attributes);
    new TerraformOutput(stack, "attribute", { value: fresh.caCertificatePem });
    new TerraformOutput(stack, "imported-attribute", { value: imported.caCertificatePem });
    const probes = synthJson(stack).output;
    expect([probes.attribute.value, probes["imported-attribute"].value]).toEqual([caPem, caPem]);
  });

  test("no private key and no certificate in the synthesized JSON: references only", () => {
    const text = Testing.synth(group.node.scope as TerraformStack);
    expect(text).toContain("tls_private_key");
    expect(text).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE|BEGIN EC/);
  });

  test("each node's own role reads the CA certificate and that node's key and certificate, no other node's, besides the users' secrets", () => {
    const tlsParameters = Object.keys(resources(json, "aws_ssm_parameter")).filter((id) => pathOfLogicalId(id).startsWith("redis/tls/"));
    expect(tlsParameters).toHaveLength(1 + 2 * NODES.length);
    const arn = (id: string) => `\${aws_ssm_parameter.${id}.arn}`;
    for (const node of NODES) {
      const policy = JSON.parse(resourceAt(json, "aws_iam_role_policy", `redis/${node}/role/read-password`).policy as string);
      const reads = policy.Statement.filter((s: { Action: string[] }) => s.Action.includes("ssm:GetParameter")).flatMap((s: { Resource: string | string[] }) => [s.Resource].flat());
      const own = tlsParameters.filter((id) => pathOfLogicalId(id) === "redis/tls/ca-certificate-parameter" || pathOfLogicalId(id).startsWith(`redis/tls/${node}/`));
      const others = (r: string) => r.includes("_users_") || r.includes("_boot-library_");
      expect({ node, reads: reads.filter((r: string) => !others(r)).sort() }).toEqual({ node, reads: own.map(arn).sort() });
      expect(own).toHaveLength(3);
    }
  });

  test.each(NODES)("%s: the tls step runs between secret-fetch and redis-server and reads the node's own parameters", (node) => {
    const files = nodeFilesOf(json, userData[`redis/${node}`]);
    expect(nodeEnvVariable(userData[`redis/${node}`], "BOOT_PARTS")).toBe("tuning updates secret-fetch tls data-volume redis-server redis-role sentinel-events sentinel planned-failover ssm-agent");
    expect(parseCloudConfig(userData[`redis/${node}`]).packages).toContain("openssl");
    const env = files["/etc/redis-node/node.env"];
    const paramName = (leaf: string) => ref(json, "aws_ssm_parameter", `redis/tls/${leaf}-parameter`, "name");
    expect(env).toContain(`TLS_KEY_ID='${paramName(`${node}/key`)}'\n`);
    expect(env).toContain(`TLS_CERT_ID='${paramName(`${node}/certificate`)}'\n`);
    expect(env).toContain(`TLS_CA_ID='${paramName("ca-certificate")}'\n`);
    expect(env).toContain(`TLS_NODE_ADDRESS='${eniAddressRef(json, `redis/${node}`)}'\n`);
    expect(env).toContain(`TLS_DIR='${TLS_PATHS.dir}'\n`);
    expect(env).toContain("SECRET_FETCH_STEP='/usr/local/lib/redis-node/parts/secret-fetch.sh'\n");
    expect(files["/usr/local/lib/redis-node/parts/secret-fetch.sh"]).toMatch(/^fetch_all\(\) \{$/m);
  });

  test.each(NODES)("%s: redis.conf and sentinel.conf listen with TLS only, TLS 1.2+, and talk TLS to the other nodes", (node) => {
    const files = cloudConfigFiles(userData[`redis/${node}`]);
    for (const [file, port] of [[REDIS_CONF, "6379"], [SENTINEL_CONF, "26379"]]) {
      const conf = parseRedisConf(files[file]);
      expect({ file, port: directiveArgs(conf, "port") }).toEqual({ file, port: ["0"] });
      expect(directiveArgs(conf, "tls-port")).toEqual([port]);
      expect(directiveArgs(conf, "tls-cert-file")).toEqual([TLS_PATHS.certificate]);
      expect(directiveArgs(conf, "tls-key-file")).toEqual([TLS_PATHS.key]);
      expect(directiveArgs(conf, "tls-ca-cert-file")).toEqual([TLS_PATHS.caCertificate]);
      expect(directiveArgs(conf, "tls-replication")).toEqual(["yes"]);
      expect(directiveArgs(conf, "tls-auth-clients")).toEqual(["optional"]);
      expect(directiveArgs(conf, "tls-protocols")).toEqual(["TLSv1.2 TLSv1.3"]);
      expect(directiveArgs(conf, "tls-prefer-server-ciphers")).toEqual(["yes"]);
    }
  });

  test("no warning", () => {
    expect(warningsOf(group)).toEqual([]);
  });
});

describe("renewal on the nodes", () => {
  const { json } = synthGroup();
  const userData = userDataOf(json);
  const step = readFileSync(resolve(__dirname, "../../lib/boot/parts/assets/tls.sh"), "utf8");
  const lines = (text: string) => text.split("\n").filter(Boolean);

  test.each(NODES)("%s: a oneshot service runs the tls step's renew, a daily timer at a random time of each node starts it", (node) => {
    const entries = parseCloudConfig(userData[`redis/${node}`]).write_files as Array<{ path: string; owner: string; permissions: string; content: string }>;
    const unit = (suffix: string) => entries.find((f) => f.path === `/etc/systemd/system/${TLS_RENEW_UNIT}.${suffix}`)!;
    for (const suffix of ["service", "timer"]) expect({ suffix, owner: unit(suffix).owner, mode: unit(suffix).permissions }).toEqual({ suffix, owner: "root:root", mode: "0644" });
    expect(lines(unit("service").content)).toEqual([
      "[Unit]",
      "Description=Renew the Redis TLS key and certificates from SSM",
      "[Service]",
      "Type=oneshot",
      `ExecStart=${TLS_STEP_PATH} renew`,
      "TimeoutStartSec=10min",
    ]);
    expect(lines(unit("timer").content)).toEqual(["[Timer]", "OnCalendar=daily", "RandomizedDelaySec=4h", "Persistent=true", "[Install]", "WantedBy=timers.target"]);
    // The step the service runs is the node's tls step, which enables the timer once the boot reaches its start phase.
    expect(TLS_STEP_PATH).toMatch(/^\/usr\/local\/lib\/redis-node\/parts\/(\d\d-)?tls\.sh$/);
    expect(step).toMatch(/^ {2}renew\) renew ;;$/m);
    expect(step).toMatch(new RegExp(`^ {2}start\\) systemctl enable --no-reload --now ${TLS_RENEW_UNIT}\\.timer ;;$`, "m"));
  });

  test.each(NODES)("%s: a certificate Terraform re-issues lands in the parameter the timer reads, with the grants the boot already has", (node) => {
    // Re-issued early: a plan within NODE_CERTIFICATE_EARLY_RENEWAL_HOURS of expiry replaces the certificate, whose PEM is the parameter's value.
    const certificate = `redis/tls/${node}/certificate`;
    expect(resourceAt(json, "tls_locally_signed_cert", certificate).early_renewal_hours).toBe(NODE_CERTIFICATE_EARLY_RENEWAL_HOURS);
    expect(resourceAt(json, "aws_ssm_parameter", `${certificate}-parameter`).value).toBe(ref(json, "tls_locally_signed_cert", certificate, "cert_pem"));
    const env = cloudConfigFiles(userData[`redis/${node}`])["/etc/redis-node/node.env"];
    expect(env).toContain(`TLS_CERT_ID='${ref(json, "aws_ssm_parameter", `${certificate}-parameter`, "name")}'\n`);
    // No statement beyond the boot's reads (the boot library's GetParameters, the failover events' PutEvents): the timer runs as root on the node with the instance role.
    const policy = JSON.parse(resourceAt(json, "aws_iam_role_policy", `redis/${node}/role/read-password`).policy as string);
    const actions = [...new Set(policy.Statement.flatMap((s: { Action: string[] }) => s.Action))].sort();
    expect(actions).toEqual(["events:PutEvents", "ssm:GetParameter", "ssm:GetParameters"]);
  });

  test("the CA certificate is renewed with the same key a year before it expires: certificates it signed stay valid under the new one", () => {
    const ca = resourceAt(json, "tls_self_signed_cert", "redis/tls/ca-certificate");
    expect(ca).toMatchObject({ early_renewal_hours: CA_EARLY_RENEWAL_HOURS, set_subject_key_id: true, private_key_pem: ref(json, "tls_private_key", "redis/tls/ca-key", "private_key_pem") });
    expect(CA_EARLY_RENEWAL_HOURS).toBe(365 * 24);
  });
});

describe("CA rollover: trust both CAs, sign with the new one, retire the old one", () => {
  const { PRIMARY, SECONDARY } = TlsCertificateAuthoritySlot;
  const steps = {
    start: synthGroup(),
    trustBoth: synthGroup({ tls: { trustedCertificateAuthorities: [PRIMARY, SECONDARY] } }),
    signWithNew: synthGroup({ tls: { signingCertificateAuthority: SECONDARY, trustedCertificateAuthorities: [PRIMARY, SECONDARY] } }),
    retireOld: synthGroup({ tls: { signingCertificateAuthority: SECONDARY } }),
  };
  const caPem = (json: TerraformJson, slot: "ca" | "secondary-ca") => ref(json, "tls_self_signed_cert", `redis/tls/${slot}-certificate`, "cert_pem");
  const caKey = (json: TerraformJson, slot: "ca" | "secondary-ca") => ref(json, "tls_private_key", `redis/tls/${slot}-key`, "private_key_pem");
  const cas = (json: TerraformJson) => Object.keys(resources(json, "tls_self_signed_cert")).map(pathOfLogicalId).sort();
  /** The CA file the nodes read, which is also the clients' CA (the output). */
  const caFile = ({ json }: { json: TerraformJson }) => {
    const value = resourceAt(json, "aws_ssm_parameter", "redis/tls/ca-certificate-parameter").value;
    expect(json.output["redis-ca-certificate"].value).toBe(value);
    return value;
  };
  const signerOf = (json: TerraformJson, path: string) => {
    const certificate = resourceAt(json, "tls_locally_signed_cert", path);
    return [certificate.ca_private_key_pem, certificate.ca_cert_pem];
  };

  test("1. both CAs trusted: a second CA with its own key and subject; the CA file holds both; the certificates stay with the first", () => {
    const { json, group } = steps.trustBoth;
    expect(cas(json)).toEqual(["redis/tls/ca-certificate", "redis/tls/secondary-ca-certificate"]);
    expect(resourceAt(json, "tls_private_key", "redis/tls/secondary-ca-key")).toEqual({ algorithm: "ECDSA", ecdsa_curve: "P256" });
    const secondary = resourceAt(json, "tls_self_signed_cert", "redis/tls/secondary-ca-certificate");
    expect(secondary).toMatchObject({ private_key_pem: caKey(json, "secondary-ca"), is_ca_certificate: true, validity_period_hours: CA_VALIDITY_HOURS });
    const subjects = cas(json).map((path) => (resourceAt(json, "tls_self_signed_cert", path).subject as Array<{ common_name: string }>)[0].common_name);
    expect(subjects).toEqual(["Redis CA test/redis", "Redis CA test/redis (secondary)"]);
    expect(caFile(steps.trustBoth)).toBe(`${caPem(json, "ca")}${caPem(json, "secondary-ca")}`);
    for (const node of NODES) expect(signerOf(json, `redis/tls/${node}/certificate`)).toEqual([caKey(json, "ca"), caPem(json, "ca")]);
    // Client certificates too; the first CA's resources keep their ids, so nothing of it is replaced.
    group.issueClientCertificate("web");
    const withClient = synthJson(group.node.scope as TerraformStack);
    expect(signerOf(withClient, "redis/tls/clients/web/certificate")).toEqual([caKey(withClient, "ca"), caPem(withClient, "ca")]);
    expect(resourceAt(json, "tls_self_signed_cert", "redis/tls/ca-certificate")).toEqual(resourceAt(steps.start.json, "tls_self_signed_cert", "redis/tls/ca-certificate"));
  });

  test("2. signing with the second CA: every node and client certificate is re-issued by it, for the same keys; the CA file is unchanged", () => {
    const { json, group } = steps.signWithNew;
    for (const node of NODES) {
      expect(signerOf(json, `redis/tls/${node}/certificate`)).toEqual([caKey(json, "secondary-ca"), caPem(json, "secondary-ca")]);
      expect(resourceAt(json, "tls_cert_request", `redis/tls/${node}/certificate-request`)).toEqual(resourceAt(steps.trustBoth.json, "tls_cert_request", `redis/tls/${node}/certificate-request`));
    }
    group.issueClientCertificate("web");
    const withClient = synthJson(group.node.scope as TerraformStack);
    expect(signerOf(withClient, "redis/tls/clients/web/certificate")).toEqual([caKey(withClient, "secondary-ca"), caPem(withClient, "secondary-ca")]);
    expect(caFile(steps.signWithNew)).toBe(caFile(steps.trustBoth));
  });

  test("3. the first CA retired: its key and certificate are gone, the CA file holds the second only", () => {
    const { json } = steps.retireOld;
    expect(cas(json)).toEqual(["redis/tls/secondary-ca-certificate"]);
    expect(Object.keys(resources(json, "tls_private_key")).map(pathOfLogicalId)).not.toContain("redis/tls/ca-key");
    expect(caFile(steps.retireOld)).toBe(caPem(json, "secondary-ca"));
    for (const node of NODES) expect(signerOf(json, `redis/tls/${node}/certificate`)).toEqual([caKey(json, "secondary-ca"), caPem(json, "secondary-ca")]);
  });

  test("the next rollover goes back: the first slot gets a new CA (a new key), the same steps", () => {
    const next = synthGroup({ tls: { signingCertificateAuthority: SECONDARY, trustedCertificateAuthorities: [SECONDARY, PRIMARY] } });
    expect(cas(next.json)).toEqual(["redis/tls/ca-certificate", "redis/tls/secondary-ca-certificate"]);
    // The CA file keeps slot order, whatever order the prop lists them in.
    expect(caFile(next)).toBe(`${caPem(next.json, "ca")}${caPem(next.json, "secondary-ca")}`);
  });
});

describe("requireClientCertificates", () => {
  test("tls-auth-clients yes on every Redis and Sentinel", () => {
    const { json } = synthGroup({ tls: { requireClientCertificates: true } });
    for (const userData of Object.values(userDataOf(json))) {
      for (const file of [REDIS_CONF, SENTINEL_CONF]) {
        expect(directiveArgs(parseRedisConf(cloudConfigFiles(userData)[file]), "tls-auth-clients")).toEqual(["yes"]);
      }
    }
  });
});

describe("TLS off", () => {
  const off = synthGroup({ tls: { enabled: false } });
  const on = synthGroup();

  test("warns that passwords and data cross the network in clear text", () => {
    expect(warningsOf(off.group)).toEqual([expect.stringMatching(/^tls\.enabled is false: passwords and data cross the network in clear text/)]);
  });

  test("no certificate, no TLS parameter, no tls provider, no CA attribute or output", () => {
    for (const type of ["tls_private_key", "tls_self_signed_cert", "tls_cert_request", "tls_locally_signed_cert"]) expect(resources(off.json, type)).toEqual({});
    expect(Object.keys(resources(off.json, "aws_ssm_parameter")).filter((id) => id.includes("_tls_"))).toEqual([]);
    expect(off.json.provider.tls).toBeUndefined();
    expect(off.json.terraform.required_providers.tls).toBeUndefined();
    expect(off.group.caCertificatePem).toBeUndefined();
    expect(off.json.output["redis-ca-certificate"]).toBeUndefined();
  });

  test.each(NODES)("%s: the plaintext configs: `port`, no tls-* directive, io-threads from the vCPUs, otherwise the same as with TLS; no tls step", (node) => {
    const files = cloudConfigFiles(userDataOf(off.json)[`redis/${node}`]);
    const withTls = cloudConfigFiles(userDataOf(on.json)[`redis/${node}`]);
    for (const [file, port] of [[REDIS_CONF, "6379"], [SENTINEL_CONF, "26379"]]) {
      const conf = parseRedisConf(files[file]);
      expect(directiveArgs(conf, "port")).toEqual([port]);
      expect(conf.filter((d) => TLS_DIRECTIVES.includes(d.name))).toEqual([]);
      // The rest, apart from the references to the other group's ENIs and io-threads, is the same text.
      const normalize = (parsed: ParsedDirective[]) =>
        JSON.stringify(withoutTls(parsed).filter((d) => d.name !== "io-threads")).replace(/aws_network_interface\.[\w-]+\./g, "ENI.");
      expect(normalize(conf)).toBe(normalize(parseRedisConf(withTls[file])));
    }
    // Redis 7.0's threaded I/O does not work with TLS: one thread with it, the vCPU rule without.
    expect(directiveArgs(parseRedisConf(withTls[REDIS_CONF]), "io-threads")).toEqual(["1"]);
    expect(directiveArgs(parseRedisConf(files[REDIS_CONF]), "io-threads").join(" ")).toMatch(/default_vcpus/);
    expect(Object.keys(files).filter((p) => /tls/.test(p))).toEqual([]);
    expect(files["/etc/redis-node/node.env"]).not.toMatch(/TLS/);
    expect(parseCloudConfig(userDataOf(off.json)[`redis/${node}`]).packages).not.toContain("openssl");
  });
});

describe("the tls provider", () => {
  const tlsProviders = (json: TerraformJson) => json.provider?.tls ?? [];
  /** A tls provider of the user's own, as a prebuilt or generated binding (`cdktf get`, `cdktn get`) makes it: here with a proxy setting. */
  class UsersTlsProvider extends TerraformProvider {
    constructor(scope: Construct, id: string, private readonly proxy?: { fromEnv: boolean }) {
      super(scope, id, { terraformResourceType: "tls", terraformProviderSource: "hashicorp/tls", terraformGeneratorMetadata: { providerName: "tls" } });
    }
    protected synthesizeAttributes() {
      return this.proxy ? { proxy: [{ from_env: this.proxy.fromEnv }] } : {};
    }
  }

  test("the group adds one to its stack when there is none", () => {
    const { json, stack } = synthGroup();
    expect(tlsProviders(json)).toEqual([{}]);
    expect(json.terraform.required_providers.tls).toMatchObject({ source: "hashicorp/tls" });
    expect(() => Testing.synth(stack, true)).not.toThrow();
  });

  test("two groups in one stack share one", () => {
    const stack = newStack();
    new RedisReplicationGroup(stack, "a", BASE);
    new RedisReplicationGroup(stack, "b", BASE);
    expect(tlsProviders(synthJson(stack))).toEqual([{}]);
    expect(() => Testing.synth(stack, true)).not.toThrow();
  });

  test("a user's own provider, created first, is kept and no other is added", () => {
    const stack = newStack();
    new UsersTlsProvider(stack, "my-tls", { fromEnv: true });
    const { json } = synthGroup({}, stack);
    expect(tlsProviders(json)).toEqual([{ proxy: [{ from_env: true }] }]);
    expect(() => Testing.synth(stack, true)).not.toThrow();
  });

  test("a user's provider created after the group: synth names the problem and the fix", () => {
    const stack = newStack();
    new RedisReplicationGroup(stack, "redis", BASE);
    new UsersTlsProvider(stack, "my-tls");
    expect(() => Testing.synth(stack, true)).toThrow(/the stack has 2 tls providers without an alias.*create yours before the group/);
  });
});

describe("client certificates", () => {
  test("issued by the group's CA for client use only, key and certificate in parameters; grantRead lets a role read both", () => {
    const stack = newStack();
    const group = new RedisReplicationGroup(stack, "redis", { ...BASE, tls: { requireClientCertificates: true } });
    const web = group.issueClientCertificate("web");
    expect(web).toBeInstanceOf(RedisClientCertificate);
    expect(group.issueClientCertificate("web")).toBe(web);
    web.grantRead("web-role");
    web.grantRead("web-role");
    const json = synthJson(stack);
    const at = "redis/tls/clients/web";
    expect(resourceAt(json, "tls_cert_request", `${at}/certificate-request`).ip_addresses).toBeUndefined();
    expect(resourceAt(json, "tls_locally_signed_cert", `${at}/certificate`)).toMatchObject({
      allowed_uses: ["digital_signature", "client_auth"],
      ca_cert_pem: ref(json, "tls_self_signed_cert", "redis/tls/ca-certificate", "cert_pem"),
      ca_private_key_pem: ref(json, "tls_private_key", "redis/tls/ca-key", "private_key_pem"),
      validity_period_hours: NODE_CERTIFICATE_VALIDITY_HOURS,
      early_renewal_hours: NODE_CERTIFICATE_EARLY_RENEWAL_HOURS,
    });
    expect(resourceAt(json, "aws_ssm_parameter", `${at}/key-parameter`)).toMatchObject({ name: "/redis-replication/test/redis/tls/clients/web/key", type: "SecureString" });
    expect(resourceAt(json, "aws_ssm_parameter", `${at}/certificate-parameter`)).toMatchObject({ name: "/redis-replication/test/redis/tls/clients/web/certificate", type: "String" });
    const grants = Object.values(resources(json, "aws_iam_role_policy")).filter((p) => p.role === "web-role");
    expect(grants.map((p) => JSON.parse(p.policy).Statement)).toEqual([
      [{ Effect: "Allow", Action: ["ssm:GetParameter"], Resource: [ref(json, "aws_ssm_parameter", `${at}/key-parameter`, "arn"), ref(json, "aws_ssm_parameter", `${at}/certificate-parameter`, "arn")] }],
    ]);
    // The nodes are not granted a client's key.
    for (const node of NODES) expect(resourceAt(json, "aws_iam_role_policy", `redis/${node}/role/read-password`).policy as string).not.toContain("_clients_");
    expect(Testing.synth(stack)).not.toMatch(/PRIVATE KEY/);
  });

  test("need TLS, and a name that fits a parameter path", () => {
    const off = new RedisReplicationGroup(newStack(), "redis", { ...BASE, tls: { enabled: false } });
    expect(() => off.issueClientCertificate("web")).toThrow(RedisReplicationValidationError);
    expect(() => off.issueClientCertificate("web")).toThrow(/issueClientCertificate needs TLS, and tls\.enabled is false/);
    const on = new RedisReplicationGroup(newStack(), "redis", BASE);
    expect(() => on.issueClientCertificate("web app")).toThrow(/client certificate name "web app" is invalid/);
  });
});

describe("your own CA: tls.certificateAuthorities", () => {
  const { PRIMARY, SECONDARY } = TlsCertificateAuthoritySlot;
  // A CA of the user's PKI: its certificate as text, its key a Terraform expression (from their secret store).
  const stackWithKey = () => {
    const stack = newStack();
    const key = new TerraformVariable(stack, "ca-key", { type: "string", sensitive: true });
    return { stack, keyRef: key.stringValue };
  };
  const CERT = "-----BEGIN CERTIFICATE-----\nMIIBfakeCAcertificateForSynthTestsOnly\n-----END CERTIFICATE-----";

  test("in the only slot: no CA key or certificate is made; node and client certificates are signed with the given key and certificate; the CA file is the given certificate", () => {
    const { stack, keyRef } = stackWithKey();
    const { json, group } = synthGroup({ tls: { certificateAuthorities: { primary: { certificatePem: CERT, privateKeyPem: keyRef } } } }, stack);
    expect(resources(json, "tls_self_signed_cert")).toEqual({});
    expect(Object.keys(resources(json, "tls_private_key")).map(pathOfLogicalId).filter((p) => /ca-key/.test(p))).toEqual([]);
    group.issueClientCertificate("app");
    const again = JSON.parse(Testing.synth(stack));
    for (const path of [...NODES.map((n) => `redis/tls/${n}/certificate`), "redis/tls/clients/app/certificate"]) {
      const certificate = resourceAt(again, "tls_locally_signed_cert", path);
      expect({ path, key: certificate.ca_private_key_pem, cert: certificate.ca_cert_pem }).toEqual({ path, key: "${var.ca-key}", cert: `${CERT}\n` });
    }
    expect(resourceAt(again, "aws_ssm_parameter", "redis/tls/ca-certificate-parameter").value).toBe(`${CERT}\n`);
    expect(again.output["redis-ca-certificate"].value).toBe(`${CERT}\n`);
    // The key is only ever a reference in the JSON.
    expect(JSON.stringify(again)).not.toMatch(/PRIVATE KEY/);
  });

  test("a rollover from the group's CA to yours: trust both, then sign with yours; the CA file holds both", () => {
    const { stack, keyRef } = stackWithKey();
    const mine = { certificatePem: CERT, privateKeyPem: keyRef };
    const { json } = synthGroup({ tls: { signingCertificateAuthority: SECONDARY, trustedCertificateAuthorities: [PRIMARY, SECONDARY], certificateAuthorities: { secondary: mine } } }, stack);
    expect(Object.keys(resources(json, "tls_self_signed_cert")).map(pathOfLogicalId)).toEqual(["redis/tls/ca-certificate"]);
    const groupCa = ref(json, "tls_self_signed_cert", "redis/tls/ca-certificate", "cert_pem");
    expect(resourceAt(json, "aws_ssm_parameter", "redis/tls/ca-certificate-parameter").value).toBe(`${groupCa}${CERT}\n`);
    expect(resourceAt(json, "tls_locally_signed_cert", "redis/tls/master/certificate").ca_private_key_pem).toBe("${var.ca-key}");
  });

  test.each<[string, Partial<RedisReplicationGroupProps>, RegExp]>([
    ["a literal key", { tls: { certificateAuthorities: { primary: { certificatePem: CERT, privateKeyPem: "-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----" } } } },
      /tls\.certificateAuthorities\.primary\.privateKeyPem is literal text: a key must not be in the synthesized JSON/],
    ["a literal certificate that is not PEM", { tls: { certificateAuthorities: { primary: { certificatePem: "MIIB...", privateKeyPem: "${var.k}" } } } },
      /tls\.certificateAuthorities\.primary\.certificatePem is not one PEM certificate/],
    ["TLS off", { tls: { enabled: false, certificateAuthorities: { primary: { certificatePem: CERT, privateKeyPem: "${var.k}" } } } },
      /tls\.certificateAuthorities needs TLS/],
  ])("refused at synth: %s", (_what, props, message) => {
    const build = () => synthGroup(props);
    expect(build).toThrow(RedisReplicationValidationError);
    expect(build).toThrow(message);
  });
});
