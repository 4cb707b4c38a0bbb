import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { TerraformProvider, TerraformStack, Token } from "cdktf";
import { Construct, IConstruct } from "constructs";
import type { NodeTlsMaterial, TlsParameter } from "../boot/parts/tls";
import { parameterNameOf } from "../private/parameter-name";
import { RedisExternalCertificateAuthority, TlsCertificateAuthoritySlot } from "./tls-options";
import { TlsCertRequest, TlsLocallySignedCert, TlsPrivateKey, TlsProvider, TlsSelfSignedCert } from "./tls-resources";

/** Ten years: a CA rollover means new certificates on every node and every client's trust store. */
export const CA_VALIDITY_HOURS = 10 * 365 * 24;
/**
 * A plan within a year of the CA certificate's expiry re-issues it with the
 * same key and subject (so the same subject key id): certificates signed
 * under the old one verify under the new one and the other way round, and
 * the nodes' renewal timer installs it like a renewed node certificate.
 * (Changing this value changes the resource in place; it is no new CA.)
 */
export const CA_EARLY_RENEWAL_HOURS = 365 * 24;
/** One year per node or client certificate. */
export const NODE_CERTIFICATE_VALIDITY_HOURS = 365 * 24;
/** A plan within 30 days of a node or client certificate's expiry re-issues it. */
export const NODE_CERTIFICATE_EARLY_RENEWAL_HOURS = 30 * 24;

/** The stack's tls providers, aliased or not. */
export function tlsProvidersOf(scope: IConstruct): TerraformProvider[] {
  return TerraformStack.of(scope)
    .node.findAll()
    .filter((c): c is TerraformProvider => TerraformProvider.isTerraformProvider(c) && c.terraformResourceType === "tls");
}

/**
 * An SSM parameter "<prefix>/<scope path>/<leaf>" holding TLS material, as a
 * node fetches it: the id it asks for and the ARN its role may read.
 */
function tlsParameter(scope: Construct, leaf: string, what: string, type: "String" | "SecureString", value: string, tags?: { [key: string]: string }): TlsParameter {
  const parameter = new SsmParameter(scope, `${leaf}-parameter`, {
    name: parameterNameOf(scope, leaf),
    description: `TLS ${what}`,
    type,
    value,
    tags,
  });
  return { secretId: parameter.name, secretArn: parameter.arn };
}

/** A PEM that ends with a newline, so that PEMs one after the other are a bundle (a Terraform expression is left as it is: the provider's PEMs end with one). */
function ensureFinalNewline(pem: string): string {
  return Token.isUnresolved(pem) || pem.endsWith("\n") ? pem : `${pem}\n`;
}

/** X.509 limits a common name to 64 characters; the end of a path is its most specific part. */
function commonName(text: string): string {
  return text.length <= 64 ? text : text.slice(-64);
}

export interface RedisCertificateAuthorityProps {
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
  /** The CA that signs the certificates. @default TlsCertificateAuthoritySlot.PRIMARY */
  readonly signing?: TlsCertificateAuthoritySlot;
  /** The CAs in the CA file of the nodes and clients. @default - the signing one */
  readonly trusted?: readonly TlsCertificateAuthoritySlot[];
  /** CAs of the user's own, by slot, used instead of making one there. @default - none */
  readonly external?: { readonly [slot in TlsCertificateAuthoritySlot]?: RedisExternalCertificateAuthority };
}

/** Construct ids of a slot's key and certificate: the primary CA keeps the ids of a group's only CA. */
const SLOT_ID_PREFIX: Record<TlsCertificateAuthoritySlot, string> = {
  [TlsCertificateAuthoritySlot.PRIMARY]: "ca",
  [TlsCertificateAuthoritySlot.SECONDARY]: "secondary-ca",
};

/**
 * A group's own CA and its node certificates, made by Terraform's tls
 * provider: ECDSA P-256 keys, the CA self-signed, each node certificate
 * naming the node's ENI address (known before the instance) and usable as
 * server and client certificate, since the nodes are clients of each other.
 * Keys reach the nodes only through SSM SecureString parameters; like every
 * secret Terraform makes, they are in the Terraform state. Two CAs during a
 * rollover: one signs, the CA file holds both.
 */
export class RedisCertificateAuthority extends Construct {
  /** The CA certificates (PEM, one after the other) that clients trust. @attribute */
  public readonly certificatePem: string;
  /** The signing CA's certificate (PEM). */
  public readonly signingCertificatePem: string;
  /** The signing CA's private key (a reference; the value is in the Terraform state only). */
  public readonly privateKeyPem: string;
  private readonly caParameter: TlsParameter;
  private readonly tags?: { [key: string]: string };

  constructor(scope: Construct, id: string, props: RedisCertificateAuthorityProps = {}) {
    super(scope, id);
    this.tags = props.tags;
    // Users with a tls provider of their own keep theirs; a second group finds the first one's.
    if (tlsProvidersOf(this).length === 0) new TlsProvider(TerraformStack.of(this), "tls-provider");
    this.node.addValidation({
      validate: () => {
        const defaults = tlsProvidersOf(this).filter((p) => p.alias === undefined).length;
        return defaults > 1
          ? [`the stack has ${defaults} tls providers without an alias; one was added by this group because none existed when it was created: create yours before the group`]
          : [];
      },
    });
    const signing = props.signing ?? TlsCertificateAuthoritySlot.PRIMARY;
    const trusted = props.trusted ?? [signing];
    const cas = new Map<TlsCertificateAuthoritySlot, { keyPem: string; certificatePem: string }>();
    // In slot order, so the CA file does not change when only the signing CA does.
    for (const slot of Object.values(TlsCertificateAuthoritySlot)) {
      if (slot !== signing && !trusted.includes(slot)) continue;
      const external = props.external?.[slot];
      if (external) {
        cas.set(slot, { keyPem: external.privateKeyPem, certificatePem: ensureFinalNewline(external.certificatePem) });
        continue;
      }
      const prefix = SLOT_ID_PREFIX[slot];
      const key = new TlsPrivateKey(this, `${prefix}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" });
      // Two CAs never share a subject, or a verifier could pick the wrong one's key.
      const name = slot === TlsCertificateAuthoritySlot.PRIMARY ? `Redis CA ${scope.node.path}` : `Redis CA ${scope.node.path} (${slot})`;
      const certificate = new TlsSelfSignedCert(this, `${prefix}-certificate`, {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName: commonName(name) },
        isCaCertificate: true,
        allowedUses: ["cert_signing", "crl_signing"],
        validityPeriodHours: CA_VALIDITY_HOURS,
        earlyRenewalHours: CA_EARLY_RENEWAL_HOURS,
        setSubjectKeyId: true,
      });
      cas.set(slot, { keyPem: key.privateKeyPem, certificatePem: certificate.certPem });
    }
    this.privateKeyPem = cas.get(signing)!.keyPem;
    this.signingCertificatePem = cas.get(signing)!.certificatePem;
    // Each PEM ends with a newline: one after the other is a bundle.
    this.certificatePem = [...cas].filter(([slot]) => trusted.includes(slot)).map(([, ca]) => ca.certificatePem).join("");
    this.caParameter = tlsParameter(this, "ca-certificate", `CA certificate of ${scope.node.path}`, "String", this.certificatePem, this.tags);
  }

  /**
   * A key and a certificate for one node, whose IP SAN is `address`, each in
   * its own parameter ("/redis-replication/<group path>/tls/<node>/key" and
   * ".../certificate"). Call once per node.
   */
  public issueNodeCertificate(nodeName: string, address: string): NodeTlsMaterial {
    const issued = issueCertificate(new Construct(this, nodeName), {
      caPrivateKeyPem: this.privateKeyPem,
      caCertificatePem: this.signingCertificatePem,
      ipAddresses: [address],
      allowedUses: ["digital_signature", "server_auth", "client_auth"],
      tags: this.tags,
    });
    return { key: issued.key, certificate: issued.certificate, caCertificate: this.caParameter };
  }
}

/** A certificate and its key, in SSM parameters. */
export interface IssuedCertificate {
  readonly key: TlsParameter;
  readonly certificate: TlsParameter;
  /** The certificate (PEM). */
  readonly certificatePem: string;
}

export interface IssueCertificateOptions {
  readonly caPrivateKeyPem: string;
  readonly caCertificatePem: string;
  /** IP SANs; none for a client certificate. */
  readonly ipAddresses?: string[];
  readonly allowedUses: string[];
  readonly tags?: { [key: string]: string };
}

/**
 * An ECDSA P-256 key and a certificate of the CA under `scope`, valid one
 * year and re-issued early, the key in a SecureString parameter
 * ("/redis-replication/<scope path>/key"), the certificate in a String one
 * (".../certificate").
 */
export function issueCertificate(scope: Construct, options: IssueCertificateOptions): IssuedCertificate {
  const key = new TlsPrivateKey(scope, "private-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
  const request = new TlsCertRequest(scope, "certificate-request", {
    privateKeyPem: key.privateKeyPem,
    subject: { commonName: commonName(scope.node.path) },
    ipAddresses: options.ipAddresses,
  });
  const certificate = new TlsLocallySignedCert(scope, "certificate", {
    certRequestPem: request.certRequestPem,
    caPrivateKeyPem: options.caPrivateKeyPem,
    caCertPem: options.caCertificatePem,
    allowedUses: options.allowedUses,
    validityPeriodHours: NODE_CERTIFICATE_VALIDITY_HOURS,
    earlyRenewalHours: NODE_CERTIFICATE_EARLY_RENEWAL_HOURS,
  });
  return {
    key: tlsParameter(scope, "key", `private key of ${scope.node.path}`, "SecureString", key.privateKeyPem, options.tags),
    certificate: tlsParameter(scope, "certificate", `certificate of ${scope.node.path}`, "String", certificate.certPem, options.tags),
    certificatePem: certificate.certPem,
  };
}
