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
}
