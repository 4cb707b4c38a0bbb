/**
 * The VM image: built (or found in its cache) by scripts/vm/build-image.sh.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const BUILD_SCRIPT = path.resolve(__dirname, "../../../scripts/vm/build-image.sh");

export interface VmImage {
  readonly dir: string;
  /** Raw ext4 root file system; each VM gets a qcow2 overlay on it. */
  readonly rootImage: string;
  readonly kernel: string;
  readonly initrd: string;
  /** The flat apt repository with redis-server, redis-sentinel, redis-tools and their dependencies. */
  readonly repoDir: string;
  readonly caCert: string;
  readonly caKey: string;
  /** Baked into the image: its apt source and /etc/hosts point here. */
  readonly bridgeHost: string;
  readonly aptPort: number;
  readonly region: string;
  /** Host names the image resolves to bridgeHost. */
  readonly endpoints: readonly string[];
  readonly kernelRelease: string;
  /** How long the build took when it ran. */
  readonly buildSeconds: number;
  /** Whether this call built it (cold cache) or found it. */
  readonly builtNow: boolean;
  /** Wall time of this call. */
  readonly elapsedMs: number;
}

/**
 * Runs the build script (a no-op with a warm cache) with a hard time limit;
 * its progress goes to `logFile`. On timeout the script's process group gets
 * SIGTERM (its trap unmounts the chroot), then SIGKILL.
 */
export function ensureImage(logFile: string, timeoutMs: number, signal?: AbortSignal): Promise<VmImage> {
  const started = Date.now();
  const log = fs.openSync(logFile, "a");
  return new Promise<VmImage>((resolve, reject) => {
    const child = spawn(BUILD_SCRIPT, [], { stdio: ["ignore", "pipe", log], detached: true });
    let stdout = "";
    let timedOut = false;
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // Gone.
      }
    };
    const stop = () => {
      killGroup("SIGTERM");
      setTimeout(() => killGroup("SIGKILL"), 20_000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    signal?.addEventListener("abort", stop, { once: true });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", stop);
      if (signal?.aborted) return reject(new Error(`${BUILD_SCRIPT} stopped: the run is being torn down`));
      fs.closeSync(log);
      if (timedOut) return reject(new Error(`${BUILD_SCRIPT} did not finish within ${timeoutMs / 1000} s; its log: ${logFile}`));
      if (code !== 0) return reject(new Error(`${BUILD_SCRIPT} exited with ${code}; its log: ${logFile}`));
      const dir = stdout.trim().split("\n").pop() ?? "";
      let manifest: Record<string, unknown>;
      try {
        manifest = JSON.parse(fs.readFileSync(path.join(dir, "image.json"), "utf8"));
      } catch (e) {
        return reject(new Error(`${BUILD_SCRIPT} printed '${dir}', which has no readable image.json: ${(e as Error).message}`));
      }
      const text = fs.readFileSync(logFile, "utf8");
      resolve({
        dir,
        rootImage: path.join(dir, "node.img"),
        kernel: path.join(dir, "vmlinuz"),
        initrd: path.join(dir, "initrd.img"),
        repoDir: path.join(dir, "repo"),
        caCert: path.join(dir, "ca.crt"),
        caKey: path.join(dir, "ca.key"),
        bridgeHost: String(manifest.bridgeHost),
        aptPort: Number(manifest.aptPort),
        region: String(manifest.region),
        endpoints: (manifest.endpoints as string[]).map(String),
        kernelRelease: String(manifest.kernelRelease),
        buildSeconds: Number(manifest.buildSeconds),
        builtNow: /build-image: built /.test(text),
        elapsedMs: Date.now() - started,
      });
    });
  });
}
