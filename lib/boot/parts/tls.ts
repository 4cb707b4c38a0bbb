import { SecretStore, secretReadStatements } from "../../auth/secret-store";
import { BootPart, IBootPartGrantee } from "../boot-part";
import { partStepPath } from "../cloud-config";
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

const NAME = "tls";
const ORDER = 25;
const STEP = "tls.sh";
/** Where the part's step lands: the renewal service runs it with `renew`. */
export const TLS_STEP_PATH = partStepPath({ step: STEP });

/** The systemd units (service and timer) that renew a node's TLS files. */
export const TLS_RENEW_UNIT = "redis-tls-renew";
/**
 * When the timer renews: once a day, each node at its own random time within
 * the first 4 hours of the day (nodes rarely restart their sentinels together),
 * and at boot when a run was missed while the node was off. Terraform
 * re-issues a certificate 30 days before it expires, so a day is soon enough.
 */
export const TLS_RENEW_SCHEDULE = { onCalendar: "daily", randomizedDelaySec: "4h" } as const;

/** The oneshot service that runs the tls step's `renew`, and its daily timer. */
export function renderTlsRenewUnits(): { service: string; timer: string } {
  const unit = (...lines: string[]) => [...lines, ""].join("\n");
  return {
    service: unit(
      "[Unit]",
      "Description=Renew the Redis TLS key and certificates from SSM",
      "[Service]",
      "Type=oneshot",
      `ExecStart=${TLS_STEP_PATH} renew`,
      "TimeoutStartSec=10min",
    ),
    timer: unit(
      "[Timer]",
      `OnCalendar=${TLS_RENEW_SCHEDULE.onCalendar}`,
      `RandomizedDelaySec=${TLS_RENEW_SCHEDULE.randomizedDelaySec}`,
      "Persistent=true",
      "[Install]",
      "WantedBy=timers.target",
    ),
  };
}

/**
 * TLS: fetches the node's key, its certificate and the CA certificate at
 * boot (never in user data), checks them with openssl, and grants the
 * node role exactly those three reads. Runs after secret-fetch, whose
 * fetch_secret it reuses (SECRET_FETCH_STEP), and before Redis and Sentinel
 * start. A daily timer runs the step's `renew` with the same reads: renewed
 * files replace the old ones, and redis-server reloads them without a
 * restart (the local sentinel restarts: Sentinel 7 cannot reload them).
 */
export function tlsPart(options: TlsPartOptions): BootPart {
  const { key, certificate, caCertificate } = options.material;
  const units = renderTlsRenewUnits();
  return {
    name: NAME,
    order: ORDER,
    packages: ["openssl"],
    files: [
      { path: `/etc/systemd/system/${TLS_RENEW_UNIT}.service`, permissions: "0644", content: units.service },
      { path: `/etc/systemd/system/${TLS_RENEW_UNIT}.timer`, permissions: "0644", content: units.timer },
    ],
    env: {
      TLS_DIR: TLS_PATHS.dir,
      TLS_KEY_ID: key.secretId,
      TLS_CERT_ID: certificate.secretId,
      TLS_CA_ID: caCertificate.secretId,
      TLS_NODE_ADDRESS: options.nodeAddress,
    },
    step: STEP,
    bind(grantee: IBootPartGrantee) {
      for (const p of [key, certificate, caCertificate]) {
        for (const statement of secretReadStatements(p.secretArn, SecretStore.SSM)) grantee.addToPolicy(statement);
      }
    },
  };
}
