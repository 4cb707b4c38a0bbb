import { TerraformProvider, TerraformResource } from "cdktf";
import { Construct } from "constructs";

// Terraform's tls provider (hashicorp/tls 4.x): the provider and the four
// resources the group's CA needs, with the attributes the library sets.
// Prebuilt bindings exist for cdktf only (@cdktf/provider-tls, archived
// with cdktf); cdktn has none on npm. These few lines serve both kits from
// one source, and users install one package less. They synthesize what the
// prebuilt bindings do, JSON and HCL (test/constructs/tls-resources.test.ts).

/** The provider release the bindings were written against; Terraform pins it in required_providers. */
const TLS_PROVIDER_METADATA = { providerName: "tls", providerVersion: "4.1.0", providerVersionConstraint: "~> 4.0" };

type AttributeKind = "string" | "number" | "boolean" | "stringList";

/** How cdktf's HCL renderer is told each kind. */
const HCL_KIND: Record<AttributeKind, { type: string; storageClassType: string }> = {
  string: { type: "simple", storageClassType: "string" },
  number: { type: "simple", storageClassType: "number" },
  boolean: { type: "simple", storageClassType: "boolean" },
  stringList: { type: "list", storageClassType: "stringList" },
};

type Attributes = Record<string, { readonly kind: AttributeKind; readonly value: unknown }>;

/** X.509 subject: the common name is the only field the library sets. */
export interface TlsSubject {
  readonly commonName: string;
}

/** A resource of the tls provider: snake_case attributes as Terraform names them, undefined ones left out. */
abstract class TlsResource extends TerraformResource {
  constructor(
    scope: Construct,
    id: string,
    terraformResourceType: string,
    private readonly attributes: Attributes,
    /** The subject block and the prebuilt binding's class name, which names its HCL storage class. */
    private readonly subject?: { readonly value: TlsSubject; readonly bindingClass: string },
  ) {
    super(scope, id, { terraformResourceType, terraformGeneratorMetadata: TLS_PROVIDER_METADATA });
  }

  protected synthesizeAttributes(): { [name: string]: unknown } {
    const out: { [name: string]: unknown } = {};
    for (const [name, { value }] of Object.entries(this.attributes)) if (value !== undefined) out[name] = value;
    if (this.subject) out.subject = [{ common_name: this.subject.value.commonName }];
    return out;
  }

  protected synthesizeHclAttributes(): { [name: string]: unknown } {
    const out: { [name: string]: unknown } = {};
    for (const [name, { kind, value }] of Object.entries(this.attributes)) {
      if (value !== undefined) out[name] = { value, isBlock: false, ...HCL_KIND[kind] };
    }
    if (this.subject) {
      const subject = { common_name: { value: this.subject.value.commonName, isBlock: false, ...HCL_KIND.string } };
      out.subject = { value: [subject], isBlock: true, type: "list", storageClassType: `${this.subject.bindingClass}SubjectList` };
    }
    return out;
  }
}

/** The tls provider (no settings). */
export class TlsProvider extends TerraformProvider {
  constructor(scope: Construct, id: string) {
    super(scope, id, { terraformResourceType: "tls", terraformGeneratorMetadata: TLS_PROVIDER_METADATA, terraformProviderSource: "hashicorp/tls" });
  }
}

/** `tls_private_key`. */
export class TlsPrivateKey extends TlsResource {
  constructor(scope: Construct, id: string, config: { readonly algorithm: string; readonly ecdsaCurve?: string }) {
    super(scope, id, "tls_private_key", {
      algorithm: { kind: "string", value: config.algorithm },
      ecdsa_curve: { kind: "string", value: config.ecdsaCurve },
    });
  }

  /** The key (PEM); its value lives in the Terraform state only. */
  public get privateKeyPem(): string {
    return this.getStringAttribute("private_key_pem");
  }
}

export interface TlsSelfSignedCertConfig {
  readonly privateKeyPem: string;
  readonly subject: TlsSubject;
  readonly isCaCertificate?: boolean;
  readonly allowedUses: string[];
  readonly validityPeriodHours: number;
  readonly earlyRenewalHours?: number;
  readonly setSubjectKeyId?: boolean;
}

/** `tls_self_signed_cert`. */
export class TlsSelfSignedCert extends TlsResource {
  constructor(scope: Construct, id: string, config: TlsSelfSignedCertConfig) {
    super(
      scope,
      id,
      "tls_self_signed_cert",
      {
        allowed_uses: { kind: "stringList", value: config.allowedUses },
        early_renewal_hours: { kind: "number", value: config.earlyRenewalHours },
        is_ca_certificate: { kind: "boolean", value: config.isCaCertificate },
        private_key_pem: { kind: "string", value: config.privateKeyPem },
        set_subject_key_id: { kind: "boolean", value: config.setSubjectKeyId },
        validity_period_hours: { kind: "number", value: config.validityPeriodHours },
      },
      { value: config.subject, bindingClass: "SelfSignedCert" },
    );
  }

  public get certPem(): string {
    return this.getStringAttribute("cert_pem");
  }
}

/** `tls_cert_request`. */
export class TlsCertRequest extends TlsResource {
  constructor(scope: Construct, id: string, config: { readonly privateKeyPem: string; readonly subject: TlsSubject; readonly ipAddresses?: string[] }) {
    super(
      scope,
      id,
      "tls_cert_request",
      {
        ip_addresses: { kind: "stringList", value: config.ipAddresses },
        private_key_pem: { kind: "string", value: config.privateKeyPem },
      },
      { value: config.subject, bindingClass: "CertRequest" },
    );
  }

  public get certRequestPem(): string {
    return this.getStringAttribute("cert_request_pem");
  }
}

export interface TlsLocallySignedCertConfig {
  readonly certRequestPem: string;
  readonly caPrivateKeyPem: string;
  readonly caCertPem: string;
  readonly allowedUses: string[];
  readonly validityPeriodHours: number;
  readonly earlyRenewalHours?: number;
}

/** `tls_locally_signed_cert`. */
export class TlsLocallySignedCert extends TlsResource {
  constructor(scope: Construct, id: string, config: TlsLocallySignedCertConfig) {
    super(scope, id, "tls_locally_signed_cert", {
      allowed_uses: { kind: "stringList", value: config.allowedUses },
      ca_cert_pem: { kind: "string", value: config.caCertPem },
      ca_private_key_pem: { kind: "string", value: config.caPrivateKeyPem },
      cert_request_pem: { kind: "string", value: config.certRequestPem },
      early_renewal_hours: { kind: "number", value: config.earlyRenewalHours },
      validity_period_hours: { kind: "number", value: config.validityPeriodHours },
    });
  }

  public get certPem(): string {
    return this.getStringAttribute("cert_pem");
  }
}
