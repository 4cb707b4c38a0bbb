/**
 * One of a group's two CAs. A CA rollover moves the group from one to the
 * other (and the next rollover back), in three steps that keep every node
 * and client trusting what the others present (README: "CA rollover").
 */
export enum TlsCertificateAuthoritySlot {
  /** The CA a group starts with. */
  PRIMARY = "primary",
  /** The other one. */
  SECONDARY = "secondary",
}

/**
 * A CA of your own (your PKI's intermediate, say) in place of one the group
 * makes: Terraform's tls provider signs the node and client certificates
 * with it.
 */
export interface RedisExternalCertificateAuthority {
  /** The CA certificate (PEM): literal text or a Terraform expression. */
  readonly certificatePem: string;
  /**
   * The CA's private key (PEM), as a Terraform expression only, never
   * literal text: for example the `secretString` of a
   * `DataAwsSecretsmanagerSecretVersion` of your secret. Like every key
   * Terraform signs with, it is in the Terraform state.
   */
  readonly privateKeyPem: string;
}

/** TLS of a replication group: clients, replication and Sentinel. */
export interface RedisTlsOptions {
  /**
   * TLS on every Redis and Sentinel port, and between the nodes (no
   * plaintext port at all). Off, passwords and data cross the network in
   * clear text, and synth warns.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Refuse clients that do not present a certificate signed by the group's
   * CA (`tls-auth-clients yes`), on Redis and on Sentinel. The nodes present
   * their own certificates to each other, so replication and Sentinel keep
   * working. You then issue client certificates from the group's CA yourself.
   * @default false (`tls-auth-clients optional`: a client certificate is
   * checked when one is presented)
   */
  readonly requireClientCertificates?: boolean;
  /**
   * Which of the group's two CAs signs the node and client certificates.
   * Changing it re-issues every certificate (their keys stay): do it only
   * while both CAs are in `trustedCertificateAuthorities` and the nodes and
   * clients have the CA file with both (README: "CA rollover").
   * @default TlsCertificateAuthoritySlot.PRIMARY
   */
  readonly signingCertificateAuthority?: TlsCertificateAuthoritySlot;
  /**
   * The CAs the nodes trust (their CA file) and that clients are given
   * (`caCertificatePem`, output `ca-certificate`): both during a CA
   * rollover, else the signing one. A CA neither trusted nor signing is
   * destroyed.
   * @default - the signing CA only
   */
  readonly trustedCertificateAuthorities?: TlsCertificateAuthoritySlot[];
  /**
   * Your own CA in a slot, instead of one the group makes there. A slot
   * without one gets the group's own CA; a rollover between a group CA and
   * yours works as between two group CAs (README: "Your own CA").
   * @default - the group makes the CA of each slot it uses
   */
  readonly certificateAuthorities?: { readonly primary?: RedisExternalCertificateAuthority; readonly secondary?: RedisExternalCertificateAuthority };
}
