/**
 * What the VMs reach on the bridge host: the fake instance metadata
 * (169.254.169.254:80), the fake SSM / Secrets Manager at their regional
 * names over HTTPS (:443, a certificate from the image's test CA), the
 * region's S3 name on the same server with the SSM agent package (a test
 * stand-in), and the image's apt repository over HTTP.
 */
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as path from "path";
import { run } from "../../integration/harness/netns";
import { FakeAws, FakeAwsOptions } from "../../support/fake-aws";
import { agentObjectPath, buildFakeAgentDeb, fakeS3Listener, S3Request } from "../../support/fake-ssm-agent";
import { VmImage } from "./image";

export interface AptRequest {
  readonly from: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export interface BridgeServers {
  readonly aws: FakeAws;
  /** Every request the apt repository answered. */
  readonly aptRequests: AptRequest[];
  /** Every request the fake S3 (the SSM agent package) answered. */
  readonly s3Requests: S3Request[];
  /** The remote address of every TCP connection to the fake instance metadata. */
  /** Remote addresses of the TCP connections to the metadata address's probe port (METADATA_PROBE_PORT), which nothing on a node uses. */
  readonly metadataProbeConnections: string[];
  /** Another repository directory for a VM, by its address (the image's repository for everyone else). */
  readonly aptRootFor: Map<string, string>;
  close(): Promise<void>;
}

/** A key and a certificate for the endpoint names, signed by the image's test CA. */
async function endpointCertificate(image: VmImage, dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const key = path.join(dir, "endpoints.key");
  const csr = path.join(dir, "endpoints.csr");
  const cert = path.join(dir, "endpoints.crt");
  const ext = path.join(dir, "endpoints.ext");
  fs.writeFileSync(ext, [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${image.endpoints.map((e) => `DNS:${e}`).join(",")}`,
    "",
  ].join("\n"));
  await run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-subj", `/CN=${image.endpoints[0]}`, "-out", csr]);
  await run(["openssl", "x509", "-req", "-in", csr, "-CA", image.caCert, "-CAkey", image.caKey, "-set_serial", `0x${Date.now().toString(16)}`,
    "-days", "2", "-sha256", "-extfile", ext, "-out", cert]);
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

/** Serves the files of `root`, or of the caller's own root (GET/HEAD, no listing, nothing outside it). */
function staticFiles(defaultRoot: string, requests: AptRequest[], rootFor: Map<string, string>): http.RequestListener {
  return (req, res) => {
    const root = rootFor.get(req.socket.remoteAddress ?? "") ?? defaultRoot;
    const url = new URL(req.url ?? "/", "http://repo");
    const name = decodeURIComponent(url.pathname).replace(/^\/+/, "").replace(/^\.\//, "");
    const file = path.join(root, name);
    const ok = (req.method === "GET" || req.method === "HEAD") && !name.includes("..") && !name.includes("/") && name !== "" &&
      fs.existsSync(file) && fs.statSync(file).isFile();
    requests.push({ from: req.socket.remoteAddress ?? "", method: req.method ?? "", path: url.pathname, status: ok ? 200 : 404 });
    if (!ok) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found\n");
      return;
    }
    const size = fs.statSync(file).size;
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": size });
    if (req.method === "HEAD") res.end();
    else fs.createReadStream(file).pipe(res);
  };
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/**
 * A port on the metadata address that only the tests connect to: what
 * reaches it came from a probe, never from a node's own use of instance
 * metadata (root's units read it every minute).
 */
export const METADATA_PROBE_PORT = 8181;

export async function startBridgeServers(image: VmImage, metadataAddress: string, dir: string,
  aws: Omit<FakeAwsOptions, "region" | "apiPath" | "requireEndpointHost">): Promise<BridgeServers> {
  const fake = new FakeAws({ ...aws, region: image.region, apiPath: "/", requireEndpointHost: true });
  const aptRequests: AptRequest[] = [];
  const aptRootFor = new Map<string, string>();
  const metadataProbeConnections: string[] = [];
  const s3Requests: S3Request[] = [];
  const s3 = fakeS3Listener(new Map([[agentObjectPath(image.region), buildFakeAgentDeb(dir)]]), s3Requests);
  const api = fake.listener("api");
  const { key, cert } = await endpointCertificate(image, dir);
  const servers: Array<http.Server | net.Server> = [];
  const close = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((r) => {
      if (s instanceof http.Server) s.closeAllConnections();
      s.close(() => r());
    })));
  };
  try {
    const imds = http.createServer(fake.listener("imds"));
    servers.push(imds);
    await listen(imds, 80, metadataAddress);
    const probe = net.createServer((socket) => {
      metadataProbeConnections.push(socket.remoteAddress ?? "");
      socket.end("probe\n");
    });
    servers.push(probe);
    await listen(probe, METADATA_PROBE_PORT, metadataAddress);
    // One HTTPS server for every endpoint name; S3 by its Host header.
    const endpoints = https.createServer({ key, cert }, (req, res) => (/^s3\./.test(req.headers.host ?? "") ? s3 : api)(req, res));
    servers.push(endpoints);
    await listen(endpoints, 443, image.bridgeHost);
    const apt = http.createServer(staticFiles(image.repoDir, aptRequests, aptRootFor));
    servers.push(apt);
    await listen(apt, image.aptPort, image.bridgeHost);
  } catch (error) {
    await close();
    throw error;
  }
  return { aws: fake, aptRequests, s3Requests, aptRootFor, metadataProbeConnections, close };
}
