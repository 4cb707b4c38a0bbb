// redis-server / redis-sentinel on loopback for the tests of rendered
// configuration: secrets put in by the boot script's own render_template,
// and everything stopped and removed at the end, also after a failure.
import { ChildProcess, spawn, spawnSync } from "child_process";
import { createHash } from "crypto";
import { mkdirSync, rmSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { Redis } from "ioredis";

/** The Redis helpers of the boot library (render_template, wait_for_pong, ...). */
export const REDIS_HELPERS_SCRIPT = resolve(__dirname, "../../lib/boot/assets/redis.sh");

/** The files a node's TLS directory holds, as --tls-* overrides point at them. */
export interface LocalTlsFiles {
  readonly certificate: string;
  readonly key: string;
  readonly caCertificate: string;
}

export interface LocalServer {
  readonly process: ChildProcess;
  readonly port: number;
  output: string;
}

export class LocalRedis {
  private readonly servers: LocalServer[] = [];
  private readonly clients: Redis[] = [];

  constructor(public readonly dir: string) {}

  /**
   * Writes `template` with the placeholders replaced by the boot script's
   * render_template, from a secrets directory as the secret-fetch part
   * leaves it: each user's password, and for the users in `hashedOnly` only
   * the stored hash.
   */
  public renderWithBootScript(name: string, template: string, passwords: Record<string, string>, hashedOnly: readonly string[] = []): string {
    const secrets = join(this.dir, "secrets");
    mkdirSync(secrets, { recursive: true, mode: 0o700 });
    for (const [user, password] of Object.entries(passwords)) {
      if (hashedOnly.includes(user)) {
        writeFileSync(join(secrets, `${user}.sha256`), createHash("sha256").update(password).digest("hex"), { mode: 0o600 });
      } else {
        writeFileSync(join(secrets, `${user}.password`), password, { mode: 0o600 });
      }
    }
    const templateFile = join(this.dir, `${name}.template`);
    const dest = join(this.dir, name);
    writeFileSync(templateFile, template);
    const run = spawnSync("bash", ["-c", 'source "$1" && render_template "$2" "$3"', "_", REDIS_HELPERS_SCRIPT, templateFile, dest], {
      encoding: "utf8",
      env: { ...process.env, REDIS_NODE_SECRETS_DIR: secrets },
    });
    if (run.status !== 0) throw new Error(`render_template failed: ${run.stderr}`);
    return dest;
  }

  /**
   * Starts redis-server on `conf`, overriding what would need root or
   * systemd: loopback only, files in the test directory. With `tls`, the
   * port is the TLS port (the plaintext one stays 0) and the TLS files are
   * the given ones instead of /etc/redis/tls.
   */
  public async start(conf: string, port: number, extraArgs: string[] = [], tls?: LocalTlsFiles): Promise<LocalServer> {
    const listener = tls
      ? ["--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.certificate, "--tls-key-file", tls.key, "--tls-ca-cert-file", tls.caCertificate]
      : ["--port", String(port)];
    const args = [conf, ...extraArgs, ...listener, "--bind", "127.0.0.1", "--dir", this.dir, "--logfile", ""];
    args.push("--supervised", "no", "--daemonize", "no", "--pidfile", join(this.dir, `${port}.pid`));
    const server: LocalServer = { process: spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] }), port, output: "" };
    this.servers.push(server);
    server.process.stdout!.on("data", (d: Buffer) => (server.output += d.toString()));
    server.process.stderr!.on("data", (d: Buffer) => (server.output += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!/Ready to accept connections|Sentinel ID is/.test(server.output)) {
      if (server.process.exitCode !== null || Date.now() > deadline) {
        throw new Error(`redis-server ${conf} did not start:\n${server.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return server;
  }

  /** A client that `stop` disconnects. */
  public track(client: Redis): Redis {
    this.clients.push(client);
    return client;
  }

  /** Disconnects every client, stops every server (SIGKILL after 3 s) and removes the directory. */
  public async stop(): Promise<void> {
    for (const c of this.clients) c.disconnect();
    for (const s of this.servers) {
      if (s.process.exitCode !== null) continue;
      let timer: NodeJS.Timeout | undefined;
      const exited = new Promise((r) => s.process.once("exit", r));
      s.process.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
      if (s.process.exitCode === null) s.process.kill("SIGKILL");
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
