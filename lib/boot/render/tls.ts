import { directive, Directive } from "./directives";

/** Where the tls boot part puts the node's key and certificates (Debian's config directory). */
export const TLS_PATHS = {
  dir: "/etc/redis/tls",
  key: "/etc/redis/tls/node.key",
  certificate: "/etc/redis/tls/node.crt",
  caCertificate: "/etc/redis/tls/ca.crt",
} as const;

/** TLS of a node's redis-server and redis-sentinel. */
export interface TlsSettings {
  /** `tls-auth-clients yes`: a client without a certificate of the group's CA is refused. */
  readonly requireClientCertificates: boolean;
}

/**
 * The listener directives with TLS: no plaintext port, the node's key and
 * certificate, and TLS for what the process connects to as well
 * (`tls-replication`: replicas to their master, and Sentinel to data nodes
 * and to the other sentinels). The node certificate serves as the client
 * certificate of those connections, so `requireClientCertificates` works
 * between nodes too.
 */
export function tlsListenerDirectives(port: number, tls: TlsSettings): Directive[] {
  return [
    directive("port", 0),
    directive("tls-port", port),
    directive("tls-cert-file", TLS_PATHS.certificate),
    directive("tls-key-file", TLS_PATHS.key),
    directive("tls-ca-cert-file", TLS_PATHS.caCertificate),
    directive("tls-replication", true),
    directive("tls-auth-clients", tls.requireClientCertificates ? "yes" : "optional"),
    directive("tls-protocols", "TLSv1.2 TLSv1.3"),
    directive("tls-prefer-server-ciphers", true),
  ];
}

/** `port`, or the TLS listener when TLS is on. */
export function listenerDirectives(port: number, tls: TlsSettings | undefined): Directive[] {
  return tls ? tlsListenerDirectives(port, tls) : [directive("port", port)];
}
