// The library's own bindings of Terraform's tls provider synthesize what the
// prebuilt bindings of @cdktf/provider-tls do, in JSON and in HCL, for the
// attributes the library sets. (cdktf only: cdktn has no prebuilt tls
// bindings, which is why the library has its own.)
import { CertRequest } from "@cdktf/provider-tls/lib/cert-request";
import { LocallySignedCert } from "@cdktf/provider-tls/lib/locally-signed-cert";
import { PrivateKey } from "@cdktf/provider-tls/lib/private-key";
import { TlsProvider as PrebuiltTlsProvider } from "@cdktf/provider-tls/lib/provider";
import { SelfSignedCert } from "@cdktf/provider-tls/lib/self-signed-cert";
import { TerraformStack, Testing } from "cdktf";
import { TlsCertRequest, TlsLocallySignedCert, TlsPrivateKey, TlsProvider, TlsSelfSignedCert } from "../../lib/auth/tls-resources";

/** A CA, a node key, its request with an IP SAN and its certificate, in the library's own bindings. */
function ours(stack: TerraformStack): void {
  new TlsProvider(stack, "tls");
  const caKey = new TlsPrivateKey(stack, "ca-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
  const ca = new TlsSelfSignedCert(stack, "ca", {
    privateKeyPem: caKey.privateKeyPem,
    subject: { commonName: "Redis CA app/cache" },
    isCaCertificate: true,
    allowedUses: ["cert_signing", "crl_signing"],
    validityPeriodHours: 87600,
    setSubjectKeyId: true,
  });
  const key = new TlsPrivateKey(stack, "key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
  const request = new TlsCertRequest(stack, "request", { privateKeyPem: key.privateKeyPem, subject: { commonName: "app/cache/master" }, ipAddresses: ["10.0.1.10"] });
  const plain = new TlsCertRequest(stack, "client-request", { privateKeyPem: key.privateKeyPem, subject: { commonName: "app/cache/clients/web" } });
  for (const [id, csr] of [["certificate", request.certRequestPem], ["client-certificate", plain.certRequestPem]]) {
    new TlsLocallySignedCert(stack, id, {
      certRequestPem: csr,
      caPrivateKeyPem: caKey.privateKeyPem,
      caCertPem: ca.certPem,
      allowedUses: ["digital_signature", "server_auth", "client_auth"],
      validityPeriodHours: 8760,
      earlyRenewalHours: 720,
    });
  }
}

/** The same with @cdktf/provider-tls. */
function prebuilt(stack: TerraformStack): void {
  new PrebuiltTlsProvider(stack, "tls");
  const caKey = new PrivateKey(stack, "ca-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
  const ca = new SelfSignedCert(stack, "ca", {
    privateKeyPem: caKey.privateKeyPem,
    subject: [{ commonName: "Redis CA app/cache" }],
    isCaCertificate: true,
    allowedUses: ["cert_signing", "crl_signing"],
    validityPeriodHours: 87600,
    setSubjectKeyId: true,
  });
  const key = new PrivateKey(stack, "key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
  const request = new CertRequest(stack, "request", { privateKeyPem: key.privateKeyPem, subject: [{ commonName: "app/cache/master" }], ipAddresses: ["10.0.1.10"] });
  const plain = new CertRequest(stack, "client-request", { privateKeyPem: key.privateKeyPem, subject: [{ commonName: "app/cache/clients/web" }] });
  for (const [id, csr] of [["certificate", request.certRequestPem], ["client-certificate", plain.certRequestPem]]) {
    new LocallySignedCert(stack, id, {
      certRequestPem: csr,
      caPrivateKeyPem: caKey.privateKeyPem,
      caCertPem: ca.certPem,
      allowedUses: ["digital_signature", "server_auth", "client_auth"],
      validityPeriodHours: 8760,
      earlyRenewalHours: 720,
    });
  }
}

function stackWith(build: (stack: TerraformStack) => void): TerraformStack {
  const stack = new TerraformStack(Testing.app(), "app");
  build(stack);
  return stack;
}

test("JSON: the same resources, attributes, references and provider pin", () => {
  const json = JSON.parse(Testing.synth(stackWith(ours)));
  expect(json).toEqual(JSON.parse(Testing.synth(stackWith(prebuilt))));
  expect(json.terraform.required_providers.tls).toEqual({ source: "hashicorp/tls", version: "4.1.0" });
  expect(json.resource.tls_cert_request["client-request"].ip_addresses).toBeUndefined();
});

test("HCL: the same text", () => {
  const hcl = Testing.synthHcl(stackWith(ours));
  expect(hcl).toContain('resource "tls_self_signed_cert" "ca"');
  expect(hcl).toEqual(Testing.synthHcl(stackWith(prebuilt)));
});
