import { BootPart, IBootPartGrantee } from "../boot-part";
import { partStepPath } from "../cloud-config";
import {
  EXPORTER_DROP_IN,
  EXPORTER_PASSWORDS_PATH,
  EXPORTER_UNIT,
  exporterTargetsOf,
  renderExporterDropIn,
  renderScrapeConfig,
  SCRAPE_CONFIG_PATH,
  ScrapeSettings,
} from "../render/metrics";

export interface MetricsPartOptions extends ScrapeSettings {
  /** ARN of the log group the agent writes to (logs and the metrics' EMF events). */
  readonly logGroupArn: string;
  /** ARN of the SSM parameter that holds the agent's configuration. */
  readonly agentConfigParameterArn: string;
}

const STEP = "metrics.sh";
export const METRICS_STEP_PATH = partStepPath({ step: STEP });

/**
 * Metrics of the node: the Prometheus redis exporter (Debian's package),
 * logged in as the monitor user over TLS with the node's certificate, its
 * password from the secret store into a root-only file that systemd hands
 * to the exporter alone; and the scrape configuration of the node's
 * CloudWatch agent, which SSM installs and configures (see
 * RedisGroupMonitoring). The node role may write to the group's log group
 * and read the agent's configuration, nothing else of CloudWatch.
 */
export function metricsPart(options: MetricsPartOptions): BootPart {
  const defaultTargetPort = options.redisPort ?? options.sentinelPort;
  if (defaultTargetPort === undefined) throw new Error("a metrics part needs redis-server or a sentinel on the node");
  const exporter = { nodeAddress: options.nodeAddress, exporterPort: options.exporterPort, defaultTargetPort, tls: options.tls };
  return {
    name: "metrics",
    order: 50,
    packages: ["prometheus-redis-exporter", "python3"],
    files: [
      { path: EXPORTER_DROP_IN, permissions: "0644", content: renderExporterDropIn(exporter) },
      { path: SCRAPE_CONFIG_PATH, permissions: "0644", content: renderScrapeConfig(options) },
    ],
    env: {
      EXPORTER_TARGETS: exporterTargetsOf(options).join(" "),
      EXPORTER_PASSWORDS: EXPORTER_PASSWORDS_PATH,
      EXPORTER_URL: `http://${options.nodeAddress}:${options.exporterPort}/metrics`,
      // Password rotation writes the exporter's password file with the step's function.
      METRICS_STEP: METRICS_STEP_PATH,
    },
    step: STEP,
    services: [EXPORTER_UNIT],
    bind(grantee: IBootPartGrantee) {
      // What the agent does with CloudWatchAgentServerPolicy's logs actions,
      // on this group's log group only (the EMF events carry the metrics: no
      // cloudwatch:PutMetricData is needed).
      grantee.addToPolicy({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        resources: [options.logGroupArn, `${options.logGroupArn}:log-stream:*`],
      });
      // AmazonCloudWatch-ManageAgent's fetch-config, signed with the node's role.
      grantee.addToPolicy({ actions: ["ssm:GetParameter"], resources: [options.agentConfigParameterArn] });
    },
  };
}
