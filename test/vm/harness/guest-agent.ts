/**
 * A client of qemu-guest-agent over QEMU's virtio-serial chardev socket: runs
 * commands in the guest (guest-exec + guest-exec-status). One connection per
 * request, so a guest reboot (agent gone, then back) needs no reconnect logic;
 * requests to one guest are serialized (the chardev takes one client).
 */
import { randomInt } from "crypto";
import * as net from "net";

export interface ExecResult {
  /** Exit code; null when the guest killed the command at its time limit. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const POLL_MS = 250;

export class GuestAgent {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly socketPath: string) {}

  /** True when the agent answers a guest-sync within timeoutMs. */
  async ping(timeoutMs = 3000): Promise<boolean> {
    try {
      await this.request("guest-ping", undefined, timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Runs `script` with bash in the guest; the guest's `timeout` kills it
   * after timeoutMs (and we stop waiting a little later in any case).
   */
  async exec(script: string, timeoutMs = 30_000): Promise<ExecResult> {
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const started = await this.request("guest-exec", {
      path: "/usr/bin/timeout",
      arg: ["-s", "KILL", String(seconds), "/bin/bash", "-c", script],
      "capture-output": true,
    }, 10_000) as { pid: number };
    const deadline = Date.now() + timeoutMs + 10_000;
    for (let attempt = 0; Date.now() < deadline && attempt < (timeoutMs + 10_000) / POLL_MS + 3; attempt++) {
      const status = await this.request("guest-exec-status", { pid: started.pid }, 10_000) as {
        exited: boolean; exitcode?: number; signal?: number; "out-data"?: string; "err-data"?: string;
      };
      if (status.exited) {
        const decode = (b64?: string) => Buffer.from(b64 ?? "", "base64").toString("utf8");
        // `timeout -s KILL` exits 137 when it killed the command.
        const code = status.exitcode === undefined || status.exitcode === 137 ? null : status.exitcode;
        return { code, stdout: decode(status["out-data"]), stderr: decode(status["err-data"]) };
      }
      // Most commands end within a few hundred ms: ask soon, then every POLL_MS.
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, 50 * 2 ** attempt)));
    }
    throw new Error(`guest command did not finish within ${timeoutMs + 10_000} ms: ${script}`);
  }

  /** Like exec, but throws unless the command exits 0; returns stdout. */
  async check(script: string, timeoutMs = 30_000): Promise<string> {
    const r = await this.exec(script, timeoutMs);
    if (r.code !== 0) throw new Error(`guest command exited ${r.code === null ? "killed at its time limit" : r.code}: ${script}\n${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  /** One QMP-style request on a fresh connection, after a guest-sync; serialized per agent. */
  request(command: string, args: object | undefined, timeoutMs: number): Promise<unknown> {
    const next = this.queue.then(() => this.requestNow(command, args, timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private requestNow(command: string, args: object | undefined, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const syncId = randomInt(1, 2 ** 31);
      const socket = net.createConnection(this.socketPath);
      let buffer = "";
      let synced = false;
      const finish = (error: Error | undefined, value?: unknown) => {
        clearTimeout(timer);
        socket.destroy();
        if (error) reject(error);
        else resolve(value);
      };
      const timer = setTimeout(() => finish(new Error(`guest agent: no answer to ${command} within ${timeoutMs} ms`)), timeoutMs);
      socket.on("error", (e) => finish(new Error(`guest agent socket ${this.socketPath}: ${e.message}`)));
      socket.on("connect", () => socket.write(JSON.stringify({ execute: "guest-sync", arguments: { id: syncId } }) + "\n"));
      socket.on("data", (chunk) => {
        // The agent may emit a 0xFF delimiter byte; answers to an earlier (timed-out) sync may still be queued.
        buffer += chunk.toString("utf8").replace(/\xff|\ufffd/g, "");
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          if (!line) continue;
          let message: { return?: unknown; error?: { class?: string; desc?: string } };
          try {
            message = JSON.parse(line);
          } catch {
            continue;
          }
          if (!synced) {
            if (message.return === syncId) {
              synced = true;
              socket.write(JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args }) + "\n");
            }
            continue;
          }
          if (message.error) return finish(new Error(`guest agent ${command}: ${message.error.class}: ${message.error.desc}`));
          return finish(undefined, message.return);
        }
      });
    });
  }
}
