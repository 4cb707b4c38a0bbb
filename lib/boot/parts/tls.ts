import { SecretStore, secretReadStatements } from "../../auth/secret-store";
import { BootPart, IBootPartGrantee } from "../boot-part";
import { TLS_PATHS } from "../render/tls";

/** An SSM parameter the node reads at boot. */
export interface TlsParameter {
  /** What the node asks SSM for: the parameter name. */
  readonly secretId: string;
  /** ARN the node role may read. */
  readonly secretArn: string;
}

/** Where a node finds its TLS material; all three are SSM parameters. */
export interface NodeTlsMaterial {
  /** The node's private key (SecureString). */
  readonly key: TlsParameter;
  /** The node's certificate, signed by the group's CA. */
  readonly certificate: TlsParameter;
  /** The group's CA certificate. */
  readonly caCertificate: TlsParameter;
}

export interface TlsPartOptions {
  readonly material: NodeTlsMaterial;
  /** The address the certificate must name (IP SAN): the node's own. */
  readonly nodeAddress: string;
}

/**
 * TLS: fetches the node's key, its certificate and the CA certificate at
 * boot (never in user data), checks them with openssl, and grants the
 * node role exactly those three reads. Runs after secret-fetch, whose
 * fetch_secret it reuses (SECRET_FETCH_STEP), and before Redis and Sentinel start.
 */
export function tlsPart(options: TlsPartOptions): BootPart {
  const { key, certificate, caCertificate } = options.material;
  return {
    name: "tls",
    order: 25,
    packages: ["openssl"],
    files: [],
    env: {
      TLS_DIR: TLS_PATHS.dir,
      TLS_KEY_ID: key.secretId,
      TLS_CERT_ID: certificate.secretId,
      TLS_CA_ID: caCertificate.secretId,
      TLS_NODE_ADDRESS: options.nodeAddress,
    },
    step: "tls.sh",
    bind(grantee: IBootPartGrantee) {
      for (const p of [key, certificate, caCertificate]) {
        for (const statement of secretReadStatements(p.secretArn, SecretStore.SSM)) grantee.addToPolicy(statement);
      }
    },
  };
}
