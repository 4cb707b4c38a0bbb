// Test certificates made with openssl, shaped like the ones Terraform's tls
// provider makes for a group: an ECDSA P-256 CA, node certificates with IP
// SANs for server and client use.
import { execFileSync } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";

export interface TestCa {
  readonly dir: string;
  readonly name: string;
  /** Path of the CA certificate. */
  readonly certificate: string;
  readonly key: string;
  /** The CA certificate's PEM text. */
  readonly pem: string;
}

export interface TestCertificate {
  readonly certificate: string;
  readonly key: string;
}

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });

function newKey(path: string): void {
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path]);
}

export interface CertificateOptions {
  /** Sign this existing key (a renewal keeps its key) instead of a new one. */
  readonly key?: string;
  /** Subject common name. @default the file name */
  readonly commonName?: string;
  /** Days of validity; -1 makes one that expired a day ago. @default 1 (a CA: 2) */
  readonly days?: number;
}

/** A self-signed CA in `dir`, its files named after `name`. */
export function makeCa(dir: string, name: string, options: CertificateOptions = {}): TestCa {
  const key = options.key ?? join(dir, `${name}.key`);
  const certificate = join(dir, `${name}.crt`);
  if (!options.key) newKey(key);
  openssl([
    "req", "-x509", "-new", "-key", key, "-subj", `/CN=${options.commonName ?? name}`, "-days", String(options.days ?? 2), "-out", certificate,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { dir, name, certificate, key, pem: readFileSync(certificate, "utf8") };
}

/** A certificate signed by `ca`, for server and client use, naming `ips` (none: a client certificate). */
export function issueCertificate(ca: TestCa, name: string, ips: readonly string[], options: CertificateOptions = {}): TestCertificate {
  const key = options.key ?? join(ca.dir, `${name}.key`);
  const request = join(ca.dir, `${name}.csr`);
  const certificate = join(ca.dir, `${name}.crt`);
  const extensions = join(ca.dir, `${name}.ext`);
  if (!options.key) newKey(key);
  openssl(["req", "-new", "-key", key, "-subj", `/CN=${options.commonName ?? name}`, "-out", request]);
  const san = ips.length > 0 ? [`subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}`] : [];
  writeFileSync(extensions, [...san, "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth,clientAuth", ""].join("\n"));
  openssl(["x509", "-req", "-in", request, "-CA", ca.certificate, "-CAkey", ca.key, "-CAcreateserial", "-days", String(options.days ?? 1), "-extfile", extensions, "-out", certificate]);
  return { certificate, key };
}
