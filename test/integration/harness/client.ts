/**
 * Clients as the application would use them: ioredis from the root namespace
 * (the allowed client address), redis-cli inside a namespace.
 */
import Redis from "ioredis";
import { ConnectionOptions } from "tls";
import { Topology } from "./netns";

/** An ACL user and its password. */
export interface Login {
  readonly username: string;
  readonly password: string;
}

export interface ConnectOptions {
  /** @default 2000 */
  readonly connectTimeoutMs?: number;
  /** Per command. @default 5000 */
  readonly commandTimeoutMs?: number;
  /** TLS options (the group's CA); undefined: plaintext. */
  readonly tls?: ConnectionOptions;
  /** ioredis' INFO before the first command; users without INFO (replication) need it off. @default true */
  readonly readyCheck?: boolean;
}

/**
 * Connects (and authenticates) or throws. The client never reconnects or
 * queues commands on its own: during a failover a test must see every error
 * and decide itself, and a dead client must not keep jest alive.
 */
export async function connect(host: string, port: number, login: Login, opts: ConnectOptions = {}): Promise<Redis> {
  const client = new Redis({
    host,
    port,
    username: login.username,
    password: login.password,
    lazyConnect: true,
    connectTimeout: opts.connectTimeoutMs ?? 2000,
    commandTimeout: opts.commandTimeoutMs ?? 5000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: opts.readyCheck ?? true,
    tls: opts.tls,
    // A socket the server closed never clears this timer: short, so jest exits on time.
    disconnectTimeout: 100,
  });
  // Errors surface through the rejected commands; an unhandled 'error' event would crash the test run.
  // A failed TLS handshake shows only here; the promise just says the connection closed.
  let firstError: string | undefined;
  client.on("error", (error: Error) => (firstError ??= error.message));
  try {
    await client.connect();
    // connect() can resolve before a bad password is noticed; PING makes auth failures throw here.
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(`cannot connect to ${host}:${port}: ${firstError ?? (error as Error).message}`);
  }
  return client;
}

/** connect, run fn, always disconnect. */
export async function withClient<T>(host: string, port: number, login: Login, fn: (client: Redis) => Promise<T>, opts?: ConnectOptions): Promise<T> {
  const client = await connect(host, port, login, opts);
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** INFO <section> as a record: "role" -> "master", "slave0" -> "ip=...,port=...". */
export async function info(client: Redis, section: string): Promise<Record<string, string>> {
  return parseInfo(await client.info(section));
}

export function parseInfo(text: string): Record<string, string> {
  const record: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon > 0) record[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return record;
}

export interface RedisCliOptions {
  /** Passed through REDISCLI_AUTH, so it never shows in `ps`. */
  readonly password?: string;
  /** @default 5000 */
  readonly timeoutMs?: number;
}

/**
 * Runs `redis-cli <args>` inside namespace `ns` (a node, OUTSIDE or ROOT) and
 * returns stdout. Throws on a non-zero exit or timeout; note redis-cli exits
 * 0 on most error replies, so check the output.
 */
export async function redisCli(topology: Topology, ns: string, args: readonly string[], opts: RedisCliOptions = {}): Promise<string> {
  const env = opts.password === undefined ? undefined : { REDISCLI_AUTH: opts.password };
  const result = await topology.exec(ns, ["redis-cli", ...args], { env, timeoutMs: opts.timeoutMs ?? 5000 });
  return result.stdout;
}
