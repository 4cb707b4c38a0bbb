import { Construct } from "constructs";
import { grantToRole } from "../iam/grant";
import { RedisPolicyStatement } from "../iam/policy-statement";
import { issueCertificate } from "./certificate-authority";
import { SecretStore, secretReadStatements } from "./secret-store";

export interface RedisClientCertificateProps {
  /** The CA certificate (PEM) that signs it. */
  readonly caCertificatePem: string;
  /** The CA's private key (PEM; a Terraform reference). */
  readonly caPrivateKeyPem: string;
  /** @default - no tags */
  readonly tags?: { [key: string]: string };
}

/**
 * A client certificate of a group's CA, for clients of a group with
 * `tls.requireClientCertificates`: an ECDSA P-256 key in an SSM SecureString
 * parameter and the certificate (client use only, one year, re-issued 30
 * days early) in a String parameter, named after the construct path like
 * the nodes' ("/redis-replication/<path>/key", ".../certificate").
 * Applications read both with `grantRead`.
 */
export class RedisClientCertificate extends Construct {
  /** The certificate (PEM). @attribute */
  public readonly certificatePem: string;
  /** Name of the SecureString parameter holding the private key. @attribute */
  public readonly keyParameterName: string;
  /** @attribute */
  public readonly keyParameterArn: string;
  /** Name of the String parameter holding the certificate. @attribute */
  public readonly certificateParameterName: string;
  /** @attribute */
  public readonly certificateParameterArn: string;

  constructor(scope: Construct, id: string, props: RedisClientCertificateProps) {
    super(scope, id);
    const issued = issueCertificate(this, {
      caPrivateKeyPem: props.caPrivateKeyPem,
      caCertificatePem: props.caCertificatePem,
      allowedUses: ["digital_signature", "client_auth"],
      tags: props.tags,
    });
    this.certificatePem = issued.certificatePem;
    this.keyParameterName = issued.key.secretId;
    this.keyParameterArn = issued.key.secretArn;
    this.certificateParameterName = issued.certificate.secretId;
    this.certificateParameterArn = issued.certificate.secretArn;
  }

  /** Statements that allow reading the key and the certificate. */
  public readStatements(): RedisPolicyStatement[] {
    return [this.keyParameterArn, this.certificateParameterArn].flatMap((arn) => secretReadStatements(arn, SecretStore.SSM));
  }

  /** Lets an IAM role (by name) read the key and the certificate: an inline policy on that role. */
  public grantRead(roleName: string): void {
    grantToRole(this, "grant-read", roleName, this.readStatements());
  }
}
