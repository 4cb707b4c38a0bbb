/**
 * The nodes of the synthesized example stack brought up as their boot leaves
 * them, shared by the integration suites: one network namespace per node,
 * iptables mirroring the security group, a CA and a certificate per node
 * (made with openssl for the namespace addresses), each node's secrets put
 * into its secrets directory, its configs rendered from the synthesized
 * templates by the boot's own render_template, then redis-server and
 * redis-sentinel started on them. Needs root.
 */
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConnectionOptions } from "tls";
import {
  AWS_SCRIPT_PATH,
  BUILTIN_USERS,
  COMMON_SCRIPT_PATH,
  DNS_RECONFIG_SCRIPT,
  libraryPathOnNode,
  NODE_ENV_PATH,
  REDIS_ROLE_DROP_IN,
  REDIS_ROLE_STEP,
  SECRETS_LIST_PATH,
  SENTINEL_NOTIFY_SCRIPT,
  TEMPLATE_DIR,
  TLS_PATHS,
} from "../../lib/boot";
import { cleanupStale, createTopology, FirewallRule, applyFirewall, randomPrefix, run, Topology } from "./harness/netns";
import { startRedis, startSentinel } from "./harness/processes";
import { resolveReferences, SynthesizedExample } from "./synthesized-nodes";
import { issueCertificate, makeCa } from "../tls-fixtures";

export const MAXMEMORY_MB = 256;
const REDIS_HELPERS_PATH = libraryPathOnNode("redis.sh");
const TEMPLATES = {
  acl: `${TEMPLATE_DIR}/users.acl.template`,
  redis: `${TEMPLATE_DIR}/redis.conf.template`,
  sentinel: `${TEMPLATE_DIR}/sentinel.conf.template`,
};

export interface GroupNode {
  readonly name: string;
  readonly ip: string;
  /** Where the node's processes run: configs, ACL file, TLS files (tls/), logs. */
  readonly dir: string;
  /** Private directory where the boot's secret-fetch step leaves the node's secrets (<user>.password, <user>.sha256). */
  readonly secretsDir: string;
  /** Whether the node runs redis-server (a data node) and redis-sentinel; a dedicated sentinel runs only the latter. */
  readonly runsRedis: boolean;
  readonly runsSentinel: boolean;
}

export interface GroupLayout {
  readonly example: SynthesizedExample;
  readonly topology: Topology;
  /** Everything of the run: nodes' directories, rendered files, the CA. */
  readonly workRoot: string;
  readonly nodes: GroupNode[];
  /** A file of the node's user data as it lands on the node: references resolved (parameter names included). */
  fileOf(node: GroupNode, file: string): string;
}

/** A node's boot files as startGroup writes them: common.sh, aws.sh, redis.sh, parts/, node.env. */
function bootDirOf(layout: GroupLayout, node: GroupNode): string {
  return path.join(layout.workRoot, `${node.name}-boot`);
}

/** The boot library's Redis helpers (render_template, wait_for_pong) as written for a node by startGroup, next to its common.sh. */
export function redisHelpersOf(layout: GroupLayout, node: GroupNode): string {
  return path.join(bootDirOf(layout, node), "redis.sh");
}

/**
 * A node's configs as its first boot renders them (the sentinel's
 * notification script pointed at the node's copy): what a replaced node
 * starts from.
 */
export function renderedConfigsOf(layout: GroupLayout, node: GroupNode): { redis: string; sentinel: string } {
  return { redis: path.join(layout.workRoot, `${node.name}-redis.conf`), sentinel: path.join(layout.workRoot, `${node.name}-sentinel.conf`) };
}

export interface RoleDecision {
  readonly code: number | null;
  /** The step's log lines. */
  readonly log: string;
}

/**
 * Runs redis-server's ExecStartPre as the node's drop-in names it (the
 * redis-role step of the boot library, with its argument) in the node's
 * namespace, on the files the harness runs the node with: redis.conf and
 * sentinel.conf in the node's directory (which is also Redis' data
 * directory), its TLS files, its node.env. Bounded by the step's own wait
 * plus a minute.
 */
export async function decideRole(layout: GroupLayout, node: GroupNode): Promise<RoleDecision> {
  const dropIn = layout.fileOf(node, REDIS_ROLE_DROP_IN);
  const prefix = `ExecStartPre=+${REDIS_ROLE_STEP} `;
  const line = dropIn.split("\n").find((l) => l.startsWith(prefix))?.slice(prefix.length).split(" ");
  if (!line) throw new Error(`${node.name}'s ${REDIS_ROLE_DROP_IN} runs no ${REDIS_ROLE_STEP}:\n${dropIn}`);
  const lib = bootDirOf(layout, node);
  const step = path.join(lib, "parts", path.basename(REDIS_ROLE_STEP));
  fs.writeFileSync(step, layout.fileOf(node, REDIS_ROLE_STEP), { mode: 0o755 });
  let nodeEnv = path.join(lib, "node.env");
  const envText = fs.readFileSync(nodeEnv, "utf8");
  const wait = Number(/^ROLE_WAIT_SECONDS='(\d+)'$/m.exec(envText)?.[1]);
  if (!(wait > 0)) throw new Error(`${node.name}'s node.env has no ROLE_WAIT_SECONDS`);
  const stateDir = path.join(layout.workRoot, `${node.name}-state`);
  if (/^ROLE_PASSWORD_FILE=/m.test(envText)) {
    // A node that logs in with a user of its own keeps that user's password
    // in a root-only file: here in the run's directory, written as the boot
    // writes it (the step's prepare, from the secrets the boot fetched).
    nodeEnv = path.join(lib, "node.role.env");
    fs.writeFileSync(nodeEnv, `${envText}ROLE_PASSWORD_FILE='${path.join(stateDir, "role-login.password")}'\n`, { mode: 0o600 });
    fs.mkdirSync(stateDir, { recursive: true });
    await run(["bash", step, "prepare"], { env: { REDIS_NODE_LIB: lib, REDIS_NODE_ENV: nodeEnv, REDIS_NODE_SECRETS_DIR: node.secretsDir, REDIS_NODE_STATE_DIR: stateDir } });
  }
  const result = await layout.topology.exec(node.name, ["bash", step, ...line], {
    allowFailure: true,
    timeoutMs: (wait + 60) * 1000,
    env: {
      REDIS_NODE_LIB: lib,
      REDIS_NODE_ENV: nodeEnv,
      REDIS_NODE_STATE_DIR: stateDir,
      REDIS_NODE_REDIS_CONF: path.join(node.dir, "redis.conf"),
      REDIS_NODE_SENTINEL_CONF: path.join(node.dir, "sentinel.conf"),
      REDIS_NODE_DATA_DIR: node.dir,
      REDIS_NODE_TLS_DIR: path.join(node.dir, "tls"),
    },
  });
  return { code: result.code, log: result.stderr };
}

/** Sentinel's notification script, the sentinel-events step, as a node has it (paths in the run's work directory). */
export interface NodeEvents {
  readonly step: string;
  /** The spool the script writes to (REDIS_NODE_EVENTS_DIR in Sentinel's environment). */
  readonly spool: string;
  /** The node's node.env. */
  readonly nodeEnv: string;
  /** Holds common.sh and aws.sh, for the step's `send` (REDIS_NODE_LIB). */
  readonly lib: string;
}

/** 32 letters and digits, like the passwords AWS generates for the example. */
export const generatedPassword = (): string => randomBytes(24).toString("base64").replace(/[^A-Za-z0-9]/g, "").slice(0, 32);

/** A test password for every built-in user (generated) and for the example's app user (`app`, or generated). */
export function testPasswords(app: string = generatedPassword()): Record<string, string> {
  return { ...Object.fromEntries(Object.values(BUILTIN_USERS).map((user) => [user, generatedPassword()])), app };
}

/**
 * startGroup's provideSecrets for suites with test passwords: each node's
 * secrets as its secret-fetch step leaves them (the users its secrets.list
 * names, each as password or SHA-256), and the node-ops password the step
 * makes on the node.
 */
export function provideTestSecrets(passwords: Readonly<Record<string, string>>): (node: GroupNode, secretsList: string) => Promise<void> {
  return async (node, secretsList) => {
    for (const line of fs.readFileSync(secretsList, "utf8").trim().split("\n")) {
      const [user, form] = line.split(" ");
      if (passwords[user] === undefined) throw new Error(`${node.name} reads a secret of user ${user}, who has no test password`);
      const value = form === "sha256" ? createHash("sha256").update(passwords[user]).digest("hex") : passwords[user];
      fs.writeFileSync(path.join(node.secretsDir, `${user}.${form}`), value, { mode: 0o600 });
    }
    fs.writeFileSync(path.join(node.secretsDir, "node-ops.password"), generatedPassword(), { mode: 0o600 });
  };
}

/** Sentinel's client-reconfig-script, the dns step, as a node has it (when the group has writer and reader names). */
export interface NodeDns {
  readonly step: string;
  /** Where the script leaves a failover's new master (REDIS_NODE_DNS_DIR in Sentinel's environment). */
  readonly triggers: string;
  /** Holds common.sh and aws.sh (REDIS_NODE_LIB). */
  readonly lib: string;
}

export interface RunningGroup {
  readonly masterName: string;
  readonly redisPort: number;
  readonly sentinelPort: number;
  readonly downAfterMs: number;
  /** What every client of the group gets: its CA. */
  readonly tls: ConnectionOptions;
  /** The node the example created as master. */
  readonly initialMaster: GroupNode;
  /** Each node's failover events step and spool, by node name. */
  readonly events: ReadonlyMap<string, NodeEvents>;
  /** Each node's dns step and trigger directory, by node name; empty when the group has no names. */
  readonly dns: ReadonlyMap<string, NodeDns>;
}

/**
 * Synthesized example -> one namespace per node on a random /24 in 10.213.x
 * (a few tries in case one is routed on this host), plus the "outside" one.
 * Destroy `topology` when done, also after a failure of what follows.
 */
export async function layOutGroup(example: SynthesizedExample): Promise<GroupLayout> {
  await cleanupStale();
  const prefix = randomPrefix();
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), `redis-it-${prefix}-`));
  let topology: Topology | undefined;
  for (let attempt = 1; !topology; attempt++) {
    const subnet = `10.213.${20 + Math.floor(Math.random() * 200)}`;
    try {
      topology = await createTopology({ prefix, subnet, nodes: example.nodes.map((n) => n.name), outsideClient: true });
    } catch (error) {
      if (attempt >= 3 || !/already routed/.test((error as Error).message)) throw error;
    }
  }
  const topo = topology;
  const nodes = example.nodes.map((n) => ({
    name: n.name,
    ip: topo.addressOf(n.name),
    dir: path.join(workRoot, n.name),
    secretsDir: path.join(workRoot, `${n.name}-secrets`),
    runsRedis: n.files[TEMPLATES.redis] !== undefined,
    runsSentinel: n.files[TEMPLATES.sentinel] !== undefined,
  }));
  const addressesByEni = Object.fromEntries(example.nodes.map((n) => [n.eni, topo.addressOf(n.name)]));
  const fileOf = (node: GroupNode, file: string) => {
    const text = example.nodes.find((n) => n.name === node.name)!.files[file];
    if (text === undefined) throw new Error(`${node.name} has no ${file} in its user data`);
    return resolveReferences(text, addressesByEni, MAXMEMORY_MB, example.parameterNames);
  };
  return { example, topology: topo, workRoot, nodes, fileOf };
}

/**
 * Brings the nodes up as their boot does: TLS files, secrets (put in by
 * `provideSecrets`, given the node's resolved secrets.list, as the
 * secret-fetch step would leave them), configs rendered by render_template,
 * the security group's rules, then every redis-server and every sentinel.
 * Returns without waiting for replication or Sentinel to settle.
 */
export async function startGroup(
  layout: GroupLayout,
  provideSecrets: (node: GroupNode, secretsList: string) => Promise<void>,
): Promise<RunningGroup> {
  const { example, topology, workRoot, nodes, fileOf } = layout;
  const pki = path.join(workRoot, "pki");
  fs.mkdirSync(pki);
  const ca = makeCa(pki, "group-ca");
  const rendered = new Map<string, { redis?: string; sentinel?: string }>();
  const events = new Map<string, NodeEvents>();
  const dns = new Map<string, NodeDns>();
  for (const node of nodes) {
    fs.mkdirSync(node.dir);
    // As the tls part leaves them on a node (processes.ts points Redis at them).
    const certificate = issueCertificate(ca, node.name, [node.ip]);
    fs.mkdirSync(path.join(node.dir, "tls"), { mode: 0o700 });
    fs.copyFileSync(certificate.certificate, path.join(node.dir, "tls", "node.crt"));
    fs.copyFileSync(certificate.key, path.join(node.dir, "tls", "node.key"));
    fs.copyFileSync(ca.certificate, path.join(node.dir, "tls", "ca.crt"));
    const write = (file: string, source: string) => {
      fs.writeFileSync(file, fileOf(node, source), { mode: 0o600 });
      return file;
    };
    fs.mkdirSync(node.secretsDir, { mode: 0o700 });
    await provideSecrets(node, write(path.join(workRoot, `${node.name}-secrets.list`), SECRETS_LIST_PATH));
    const helpers = redisHelpersOf(layout, node);
    const lib = bootDirOf(layout, node);
    fs.mkdirSync(path.join(lib, "parts"), { recursive: true });
    write(path.join(lib, "common.sh"), COMMON_SCRIPT_PATH);
    write(path.join(lib, "aws.sh"), AWS_SCRIPT_PATH);
    write(helpers, REDIS_HELPERS_PATH);
    const nodeEnv = write(path.join(lib, "node.env"), NODE_ENV_PATH);
    const render = async (source: string, dest: string) => {
      const template = write(`${dest}.template`, source);
      await run(["bash", "-c", 'source "$1" && render_template "$2" "$3"', "render", helpers, template, dest], { env: { REDIS_NODE_SECRETS_DIR: node.secretsDir } });
      return dest;
    };
    // A data node of dedicated sentinels has no sentinel.conf, a dedicated sentinel no redis.conf.
    if (node.runsSentinel) {
      // The notification script Sentinel checks at startup and runs: the node's
      // own, copied here; sentinel.conf names this copy instead of its path on a node.
      const nodeEvents: NodeEvents = { step: path.join(lib, "parts", path.basename(SENTINEL_NOTIFY_SCRIPT)), spool: path.join(node.dir, "events"), nodeEnv, lib };
      write(nodeEvents.step, SENTINEL_NOTIFY_SCRIPT);
      fs.chmodSync(nodeEvents.step, 0o755);
      fs.mkdirSync(path.join(nodeEvents.spool, ".tmp"), { recursive: true });
      events.set(node.name, nodeEvents);
      const sentinel = await render(TEMPLATES.sentinel, path.join(workRoot, `${node.name}-sentinel.conf`));
      const scriptLine = new RegExp(`^(sentinel notification-script \\S+ )${SENTINEL_NOTIFY_SCRIPT.replace(/[.]/g, "\\.")}$`, "m");
      const conf = fs.readFileSync(sentinel, "utf8");
      if (!scriptLine.test(conf)) throw new Error(`${node.name}'s sentinel.conf has no notification-script ${SENTINEL_NOTIFY_SCRIPT}:\n${conf}`);
      let edited = conf.replace(scriptLine, `$1${nodeEvents.step}`);
      // The same for the client-reconfig-script, when the group has names.
      const reconfigLine = new RegExp(`^(sentinel client-reconfig-script \\S+ )${DNS_RECONFIG_SCRIPT.replace(/[.]/g, "\\.")}$`, "m");
      if (reconfigLine.test(edited)) {
        const nodeDns: NodeDns = { step: path.join(lib, "parts", path.basename(DNS_RECONFIG_SCRIPT)), triggers: path.join(node.dir, "dns"), lib };
        write(nodeDns.step, DNS_RECONFIG_SCRIPT);
        fs.chmodSync(nodeDns.step, 0o755);
        fs.mkdirSync(path.join(nodeDns.triggers, ".tmp"), { recursive: true });
        dns.set(node.name, nodeDns);
        edited = edited.replace(reconfigLine, `$1${nodeDns.step}`);
      }
      fs.writeFileSync(sentinel, edited);
    }
    if (node.runsRedis) {
      await render(TEMPLATES.acl, path.join(node.dir, "users.acl"));
      await render(TEMPLATES.redis, path.join(workRoot, `${node.name}-redis.conf`));
    }
    const configs = renderedConfigsOf(layout, node);
    rendered.set(node.name, { redis: node.runsRedis ? configs.redis : undefined, sentinel: node.runsSentinel ? configs.sentinel : undefined });
  }

  const sentinelConf = fs.readFileSync(rendered.get(nodes.find((n) => n.runsSentinel)!.name)!.sentinel!, "utf8");
  const monitor = /^sentinel monitor (\S+) (\S+) (\d+) (\d+)$/m.exec(sentinelConf);
  if (!monitor) throw new Error(`no 'sentinel monitor' line in:\n${sentinelConf}`);
  const masterName = monitor[1];
  // The example keeps the default: TLS only, on the usual ports, with the files the tls part writes.
  const tlsLines = ["port 0", `tls-cert-file ${TLS_PATHS.certificate}`, `tls-key-file ${TLS_PATHS.key}`, `tls-ca-cert-file ${TLS_PATHS.caCertificate}`, "tls-replication yes"];
  for (const [name, conf] of [["redis.conf", fs.readFileSync(rendered.get(nodes.find((n) => n.runsRedis)!.name)!.redis!, "utf8")], ["sentinel.conf", sentinelConf]]) {
    const missing = tlsLines.filter((line) => !conf.split("\n").includes(line));
    if (missing.length > 0) throw new Error(`${name} of the example lacks ${missing.join(", ")}`);
  }
  const initialMaster = nodes.find((n) => n.ip === monitor[2]);
  if (!initialMaster) throw new Error(`sentinel monitor names ${monitor[2]}, not one of our nodes`);

  // Mirror the security group: the root namespace plays the app servers' group.
  const sourcesByPort = new Map<number, string[]>();
  for (const rule of example.ingress) {
    let sources: string[];
    if (rule.source === "self") sources = nodes.map((n) => n.ip);
    else if (rule.source === example.appSecurityGroupRef) sources = [topology.clientAddress];
    else if (/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(rule.source)) sources = [rule.source];
    else throw new Error(`cannot mirror ingress source ${rule.source} on port ${rule.port}`);
    sourcesByPort.set(rule.port, [...(sourcesByPort.get(rule.port) ?? []), ...sources]);
  }
  const rules: FirewallRule[] = [...sourcesByPort].map(([port, allowedSources]) => ({ port, allowedSources }));
  for (const node of nodes) await applyFirewall(topology, node.name, rules);

  for (const node of nodes.filter((n) => n.runsRedis)) await startRedis(topology, node.name, rendered.get(node.name)!.redis!, node.dir);
  for (const node of nodes.filter((n) => n.runsSentinel)) {
    const env = { REDIS_NODE_EVENTS_DIR: events.get(node.name)!.spool, ...(dns.has(node.name) ? { REDIS_NODE_DNS_DIR: dns.get(node.name)!.triggers } : {}) };
    await startSentinel(topology, node.name, rendered.get(node.name)!.sentinel!, node.dir, env);
  }
  return {
    masterName,
    redisPort: Number(monitor[3]),
    sentinelPort: Number(/^tls-port (\d+)$/m.exec(sentinelConf)![1]),
    downAfterMs: Number(new RegExp(`^sentinel down-after-milliseconds ${masterName} (\\d+)$`, "m").exec(sentinelConf)![1]),
    tls: { ca: ca.pem },
    initialMaster,
    events,
    dns,
  };
}

/** The node of `nodes` at `ip`; throws for an address that is none of them. */
export function nodeAtAddress(nodes: readonly GroupNode[], ip: string): GroupNode {
  const node = nodes.find((n) => n.ip === ip);
  if (!node) throw new Error(`${ip} is not one of our nodes`);
  return node;
}
