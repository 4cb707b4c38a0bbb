import { REDIS_COMMANDS } from "./redis-commands";

/**
 * Redis ACL users: the users the library runs on every group, the rules of
 * application users, and a check of rules against what Redis 7.0 knows.
 * Secrets appear only as placeholders that the boot replaces.
 */

/** Stands for a user's password (quoted in configs; the boot escapes it). */
export function passwordPlaceholder(user: string): string {
  return `@@PASSWORD:${user}@@`;
}

/** Stands for the hex SHA-256 of a user's password (ACL `#<hash>`). */
export function sha256Placeholder(user: string): string {
  return `@@SHA256:${user}@@`;
}

/** Any placeholder, for tests and checks that no secret was rendered. */
export const SECRET_PLACEHOLDER = /@@(PASSWORD|SHA256):([A-Za-z0-9_-]+)@@/g;

/** The users every group has, by role. Application users are the user's own. */
export const BUILTIN_USERS = {
  /** Replicas authenticate to the master with it (`masteruser`). */
  replication: "replication",
  /** Sentinels authenticate to the data nodes with it (`sentinel auth-user`). */
  sentinel: "sentinel",
  /** Sentinels authenticate to each other with it (`sentinel sentinel-user`). */
  sentinelPeer: "sentinel-peer",
  /** Clients ask the sentinels for the master with it. */
  sentinelClient: "sentinel-client",
  /** Operators: everything. */
  admin: "admin",
  /** Metrics: read-only statistics. */
  monitor: "monitor",
  /**
   * With dedicated sentinels, the data nodes' planned failover logs in to
   * them with it (SENTINEL FAILOVER and what it checks first).
   */
  nodeHandover: "node-handover",
} as const;

/**
 * Each node's own operations user (password rotation): unlike the users
 * above it has no secret in the store; its password is made on the node at
 * first boot and never leaves it.
 */
export const NODE_OPS_USER = "node-ops";

export const RESERVED_USER_NAMES: readonly string[] = ["default", ...Object.values(BUILTIN_USERS), NODE_OPS_USER];

/** Names Redis accepts and configs need no quotes for. */
export const USER_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** One ACL user: its name and its rules after `on #<hash>`. */
export interface AclUser {
  readonly name: string;
  readonly rules: readonly string[];
}

// What each built-in user may do. Redis's documentation lists the commands
// replicas and Sentinel need; everything else is denied.
// Replication: what a replica needs, and ROLE, which the planned failover
// of a data node of dedicated sentinels asks the other replicas (how much
// of the master's stream each holds). It tells less than PSYNC, which
// streams the whole dataset to this login anyway.
const REPLICATION_RULES = ["resetkeys", "resetchannels", "-@all", "+psync", "+replconf", "+ping", "+role"];
const SENTINEL_RULES = [
  "resetkeys",
  "allchannels",
  "-@all",
  "+multi",
  "+slaveof",
  "+ping",
  "+exec",
  "+subscribe",
  "+config|rewrite",
  "+role",
  "+publish",
  "+info",
  "+client|setname",
  "+client|kill",
  "+script|kill",
];
const ADMIN_RULES = ["~*", "&*", "+@all"];
// What every monitor user may do, on a data node or a sentinel: log in, name itself, INFO.
const MONITOR_BASE_RULES = ["resetkeys", "resetchannels", "-@all", "+ping", "+hello", "+client|setname", "+info"];
// Statistics only: never CONFIG GET, which reveals secrets.
const MONITOR_RULES = [
  ...MONITOR_BASE_RULES,
  "+slowlog|get",
  "+slowlog|len",
  "+latency|latest",
  "+latency|history",
  "+latency|doctor",
];
// The same on a sentinel (metrics, with monitoring): INFO, and what
// Sentinel tells of its master, replicas and peers (the exporter's SENTINEL
// MASTERS, SENTINELS, REPLICAS and CKQUORUM), which changes nothing.
const MONITOR_SENTINEL_RULES = [
  ...MONITOR_BASE_RULES,
  "+sentinel|masters",
  "+sentinel|master",
  "+sentinel|sentinels",
  "+sentinel|replicas",
  "+sentinel|slaves",
  "+sentinel|ckquorum",
];
// Sentinel to sentinel: liveness, the failure agreement and the leader vote,
// and the hello messages that carry the configuration. A data node's boot
// logs in as sentinel-peer too (its sentinel holds the password) to read
// the master's address and config epoch before redis-server starts, and its
// planned failover to see every sentinel name the new master.
const SENTINEL_PEER_RULES = [
  "resetkeys",
  "allchannels",
  "-@all",
  "+ping",
  "+hello",
  "+client|setname",
  "+publish",
  "+subscribe",
  "+info",
  "+role",
  "+sentinel|is-master-down-by-addr",
  "+sentinel|master",
];
// Clients discover the master and follow failovers; they can change nothing
// (no REMOVE, MONITOR, SET, FAILOVER, CONFIG, RESET) and publish no hello.
// INFO (Sentinel's own statistics) answers clients' ready checks.
const SENTINEL_CLIENT_RULES = [
  "resetkeys",
  "allchannels",
  "-@all",
  "+ping",
  "+hello",
  "+info",
  "+client|setname",
  "+role",
  "+subscribe",
  "+psubscribe",
  "+unsubscribe",
  "+punsubscribe",
  "+sentinel|get-master-addr-by-name",
  "+sentinel|master",
  "+sentinel|masters",
  "+sentinel|replicas",
  "+sentinel|slaves",
  "+sentinel|sentinels",
  "+sentinel|myid",
];

// The node's own operations, logged in on the node itself (only root there
// holds the password, and root could edit the configs anyway):
// - password rotation (rotate-password.sh): a user's new hash into the ACL
//   (its current hashes checked first, which root reads in the ACL file
//   anyway), the file saved, the node's own credentials switched
//   (masterauth), the master it replicates from (ROLE);
// - the planned failover before a stop (the planned-failover step): writes
//   paused, the replicas' offsets (ROLE), this node made a replica of the
//   new master, the clients' connections closed;
// - the TLS renewal (tls.sh renew): redis-server reloads its key and
//   certificates (CONFIG SET tls-cert-file ...).
// No keys, no CONFIG GET, no other admin command.
const NODE_OPS_DATA_NODE_RULES = [
  "resetkeys",
  "resetchannels",
  "-@all",
  "+ping",
  "+role",
  "+acl|users",
  "+acl|getuser",
  "+acl|setuser",
  "+acl|save",
  "+config|set",
  "+config|rewrite",
  "+client|pause",
  "+client|unpause",
  "+client|kill",
  "+replicaof",
];
// The same on a sentinel: ACL SETUSER saved with SENTINEL FLUSHCONFIG (Sentinel
// writes users to sentinel.conf only when it rewrites the file), the
// credentials it logs in with (SET auth-pass, CONFIG SET sentinel-pass), and
// the addresses of the nodes and sentinels it checks them against; for the
// planned failover, the master's state and quorum, Sentinel's own INFO
// (TILT mode; it holds no secrets), FAILOVER itself, and SET failover-timeout
// (the step ends the failover at once, then puts the value back).
const NODE_OPS_SENTINEL_RULES = [
  "resetkeys",
  "resetchannels",
  "-@all",
  "+ping",
  "+acl|users",
  "+acl|getuser",
  "+acl|setuser",
  "+sentinel|flushconfig",
  "+sentinel|set",
  "+sentinel|config",
  "+sentinel|get-master-addr-by-name",
  "+sentinel|replicas",
  "+sentinel|sentinels",
  "+info",
  "+sentinel|master",
  "+sentinel|ckquorum",
  "+sentinel|failover",
];

// A data node of dedicated sentinels hands its master role over (the
// planned-failover step, as "local sentinel" does with node-ops on a node
// with its own): the master's state, quorum, replicas and peers, Sentinel's
// INFO (TILT mode), and FAILOVER. Never SET (quorum, auth-pass: one user
// shared by every data node would change them on every sentinel), CONFIG,
// RESET, REMOVE, MONITOR, ACL, or a hello on the sentinels' channel.
const NODE_HANDOVER_RULES = [
  "resetkeys",
  "resetchannels",
  "-@all",
  "+ping",
  "+info",
  "+sentinel|get-master-addr-by-name",
  "+sentinel|master",
  "+sentinel|replicas",
  "+sentinel|sentinels",
  "+sentinel|ckquorum",
  "+sentinel|failover",
];

/** What an application user may do. */
export interface ApplicationUserRules {
  /** Key patterns (`~pattern`). */
  readonly keyPatterns: readonly string[];
  /** Pub/Sub channel patterns (`&pattern`). */
  readonly channelPatterns: readonly string[];
  readonly readOnly: boolean;
  readonly allowScripting: boolean;
  /** Further rules, checked by aclRuleProblems. */
  readonly extraRules: readonly string[];
}

/**
 * The rules of an application user: its keys and channels, every command but
 * @admin and @dangerous (CONFIG, ACL, REPLICAOF, MIGRATE, SHUTDOWN, FLUSHALL,
 * DEBUG, MODULE, KEYS...), no scripting unless asked, no writes when read-only.
 * INFO comes back: clients such as ioredis ask it before they use a connection.
 */
export function applicationUserRules(o: ApplicationUserRules): string[] {
  return [
    "resetkeys",
    ...o.keyPatterns.map((p) => `~${p}`),
    "resetchannels",
    ...o.channelPatterns.map((p) => `&${p}`),
    "+@all",
    "-@admin",
    "-@dangerous",
    ...(o.allowScripting ? [] : ["-@scripting"]),
    ...(o.readOnly ? ["-@write"] : []),
    "+info",
    ...o.extraRules,
  ];
}

/** The ACL users of a data node (redis.conf `aclfile`); the sentinel user when sentinels watch it. */
export function dataNodeUsers(applicationUsers: readonly AclUser[], sentinel: boolean): AclUser[] {
  return [
    { name: BUILTIN_USERS.replication, rules: REPLICATION_RULES },
    ...(sentinel ? [{ name: BUILTIN_USERS.sentinel, rules: SENTINEL_RULES }] : []),
    { name: BUILTIN_USERS.admin, rules: ADMIN_RULES },
    { name: BUILTIN_USERS.monitor, rules: MONITOR_RULES },
    { name: NODE_OPS_USER, rules: NODE_OPS_DATA_NODE_RULES },
    ...applicationUsers,
  ];
}

/**
 * The ACL users of a sentinel (`user` lines in sentinel.conf); the monitor
 * user when an exporter reads it, node-handover on dedicated sentinels.
 */
export function sentinelUsers(monitor = false, handover = false): AclUser[] {
  return [
    { name: BUILTIN_USERS.sentinelPeer, rules: SENTINEL_PEER_RULES },
    { name: BUILTIN_USERS.sentinelClient, rules: SENTINEL_CLIENT_RULES },
    { name: BUILTIN_USERS.admin, rules: ADMIN_RULES },
    ...(monitor ? [{ name: BUILTIN_USERS.monitor, rules: MONITOR_SENTINEL_RULES }] : []),
    ...(handover ? [{ name: BUILTIN_USERS.nodeHandover, rules: NODE_HANDOVER_RULES }] : []),
    { name: NODE_OPS_USER, rules: NODE_OPS_SENTINEL_RULES },
  ];
}

/** The arguments of a `user` line: the default user off, every other user on with its password hash. */
export function userLineArgs(user: AclUser | "default-off"): string[] {
  if (user === "default-off") return ["default", "off", "resetkeys", "resetchannels", "-@all"];
  return [user.name, "on", `#${sha256Placeholder(user.name)}`, ...user.rules];
}

/**
 * An ACL file: the default user off, then one line per user, passwords as
 * SHA-256 hashes. Redis takes no comments in it.
 */
export function renderAclFile(users: readonly AclUser[]): string {
  const lines = [
    `user ${userLineArgs("default-off").join(" ")}`,
    ...users.map((u) => `user ${userLineArgs(u).join(" ")}`),
  ];
  return lines.join("\n") + "\n";
}

// Redis 7.0's ACL categories and commands (`ACL CAT`, `COMMAND LIST`), to
// refuse a typo at synth time instead of at the node's first start.
export const ACL_CATEGORIES: readonly string[] = [
  "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo", "stream",
  "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting", "all",
];

const COMMAND_RULE = /^[+-]([a-z][a-z0-9_-]*)(\|[a-z][a-z0-9_-]*)?$/;

/**
 * Why an ACL rule is not one Redis 7.0 takes from this library's users, or
 * undefined: categories and commands are checked against Redis 7.0's own
 * lists. Passwords and user switches are not rules a user may add: the
 * library owns them.
 */
export function aclRuleProblem(rule: string): string | undefined {
  if (/^[+-]@/.test(rule)) {
    const category = rule.slice(2);
    return ACL_CATEGORIES.includes(category) ? undefined : `unknown ACL category "@${category}" (Redis 7.0 has ${ACL_CATEGORIES.map((c) => `@${c}`).join(", ")})`;
  }
  if (/^[+-]/.test(rule)) {
    const m = COMMAND_RULE.exec(rule);
    if (!m) return `"${rule}" is not a command rule such as +get or -client|kill`;
    const command = m[1] + (m[2] ?? "");
    // "+config|get" needs the subcommand; "+client" (all subcommands) the container.
    return REDIS_COMMANDS.has(command) ? undefined : `unknown command "${command}" in "${rule}" (not a Redis 7.0 command or subcommand)`;
  }
  if (/^[~&%]/.test(rule)) return /\s/.test(rule) || rule.length < 2 ? `"${rule}" is not a key or channel pattern` : undefined;
  if (["allkeys", "allchannels", "allcommands", "nocommands", "resetkeys", "resetchannels"].includes(rule)) return undefined;
  return `"${rule}" is not allowed here: use +command, -command, +@category, -@category, ~key, &channel or %R~/%W~ patterns`;
}
