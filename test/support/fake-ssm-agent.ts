/**
 * A stand-in of AWS's SSM agent package for Debian, and the region's S3
 * bucket that serves it, for the tests of the ssm-agent boot step (on the
 * host and in the VMs). The package is a real .deb that dpkg installs: the
 * name, architecture and systemd unit of the real one, and a program that
 * only says what it is and waits.
 */
import { execFileSync } from "child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { IncomingMessage, RequestListener, ServerResponse } from "http";
import { join } from "path";

export const FAKE_AGENT_PACKAGE = "amazon-ssm-agent";
export const FAKE_AGENT_VERSION = "3.3.0.0+redis-test";

export interface FakeAgentDebOptions {
  /** @default "amd64" */
  readonly architecture?: string;
  /** @default FAKE_AGENT_PACKAGE */
  readonly packageName?: string;
}

/** Builds the .deb in `dir` with dpkg-deb; returns its path. */
export function buildFakeAgentDeb(dir: string, options: FakeAgentDebOptions = {}): string {
  const architecture = options.architecture ?? "amd64";
  const name = options.packageName ?? FAKE_AGENT_PACKAGE;
  const root = mkdtempSync(join(dir, "deb-root-"));
  try {
    mkdirSync(join(root, "DEBIAN"));
    mkdirSync(join(root, "usr/bin"), { recursive: true });
    mkdirSync(join(root, "lib/systemd/system"), { recursive: true });
    writeFileSync(join(root, "DEBIAN/control"), [
      `Package: ${name}`,
      `Version: ${FAKE_AGENT_VERSION}`,
      `Architecture: ${architecture}`,
      "Maintainer: redis-replication tests <tests@invalid>",
      "Description: test stand-in of the SSM agent package",
      "",
    ].join("\n"));
    writeFileSync(join(root, "usr/bin/amazon-ssm-agent"), "#!/bin/sh\necho 'test stand-in of amazon-ssm-agent'\nexec sleep infinity\n");
    chmodSync(join(root, "usr/bin/amazon-ssm-agent"), 0o755);
    writeFileSync(join(root, "lib/systemd/system/amazon-ssm-agent.service"), [
      "[Unit]",
      "Description=test stand-in of amazon-ssm-agent",
      "[Service]",
      "ExecStart=/usr/bin/amazon-ssm-agent",
      "[Install]",
      "WantedBy=multi-user.target",
      "",
    ].join("\n"));
    const deb = join(dir, `${name}_${architecture}.deb`);
    execFileSync("dpkg-deb", ["--root-owner-group", "--build", root, deb], { stdio: ["ignore", "ignore", "pipe"] });
    return deb;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Where the step asks for the package: the region's bucket, Debian's architecture name. */
export function agentObjectPath(region: string, architecture = "amd64"): string {
  return `/amazon-ssm-${region}/latest/debian_${architecture}/amazon-ssm-agent.deb`;
}

/** One GET the fake S3 answered. */
export interface S3Request {
  readonly from: string;
  readonly host: string;
  readonly path: string;
  readonly status: number;
}

/**
 * A listener that answers GETs of `objects` (path -> file) as S3 answers a
 * public object, 404 for anything else, and records every request.
 */
export function fakeS3Listener(objects: Map<string, string>, requests: S3Request[]): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "https://s3").pathname;
    const file = req.method === "GET" ? objects.get(path) : undefined;
    requests.push({ from: req.socket.remoteAddress ?? "", host: String(req.headers.host ?? ""), path, status: file ? 200 : 404 });
    if (!file) {
      res.writeHead(404, { "Content-Type": "application/xml" }).end("<Error><Code>NoSuchKey</Code></Error>");
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": body.length }).end(body);
  };
}
