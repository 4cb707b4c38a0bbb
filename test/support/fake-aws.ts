// A fake AWS for the boot script's secret fetch: IMDSv2 (token, region, role,
// credentials) and the SSM GetParameter / Secrets Manager GetSecretValue JSON
// APIs, which verify the caller's SigV4 signature themselves; also
// EventBridge PutEvents, for the sentinels' failover events; Route 53's
// ListResourceRecordSets and ChangeResourceRecordSets (REST/XML), for the
// writer and reader names. Used on
// loopback by test/config/secret-fetch.test.ts and on the VM bridge by
// test/vm (where the endpoints are reached by their real names).
import { createHash, createHmac, randomBytes } from "crypto";
import { IncomingMessage, RequestListener, ServerResponse } from "http";

const JSON_TYPE = "application/x-amz-json-1.1";
const R53_NS = "https://route53.amazonaws.com/doc/2013-04-01/";

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

export interface SignedRequest { method: string; path: string; query: string; headers: Record<string, string[]>; body: string | Buffer }

/** Checks the request's Authorization header per AWS SigV4 (header form); throws why it is wrong.
 * The path is used as sent (already URI-encoded); our paths need no normalisation. */
export function verifySigV4(req: SignedRequest, secretKey: string) {
  const auth = req.headers.authorization?.[0] ?? "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) throw new Error(`malformed Authorization header: ${auth}`);
  const [, accessKeyId, date, region, service, signed, signature] = m;
  const amzDate = req.headers["x-amz-date"]?.[0] ?? "";
  if (!amzDate.startsWith(date)) throw new Error(`X-Amz-Date ${amzDate} is not in the credential scope date ${date}`);
  const signedHeaders = signed.split(";");
  if (!signedHeaders.includes("host")) throw new Error("host is not signed");
  const canonicalHeaders = signedHeaders.map((name) => {
    const values = req.headers[name];
    if (!values) throw new Error(`signed header ${name} is missing`);
    return `${name}:${values.map((v) => v.trim().replace(/\s+/g, " ")).join(",")}\n`;
  });
  const query = req.query.split("&").filter(Boolean).map((p) => (p.includes("=") ? p : `${p}=`).split("="))
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0)).map((kv) => kv.join("=")).join("&");
  const canonicalRequest = [req.method, req.path, query, canonicalHeaders.join(""), signed, sha256(req.body)].join("\n");
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, `${date}/${region}/${service}/aws4_request`, sha256(canonicalRequest)].join("\n");
  const key = [date, region, service, "aws4_request"].reduce<Buffer | string>((k, part) => hmac(k, part), `AWS4${secretKey}`);
  if (hmac(key, stringToSign).toString("hex") !== signature) throw new Error("The request signature we calculated does not match the signature you provided.");
  return { accessKeyId, region, service, signedHeaders, amzDate };
}

export interface FakeCredentials { readonly AccessKeyId: string; readonly SecretAccessKey: string; readonly Token: string }

export interface FakeAwsOptions {
  readonly region: string;
  /** The instance role's name in instance metadata. */
  readonly role: string;
  /** What instance metadata hands out for the role; the API accepts only these. */
  readonly creds: FakeCredentials;
  /** Secret values by parameter name (ssm) and by secret id (secretsmanager). */
  readonly stored: { readonly ssm: Map<string, string>; readonly secretsmanager: Map<string, string> };
  /** Where the JSON API answers POSTs: "/" at the real endpoints. */
  readonly apiPath: string;
  /**
   * Also require the Host header the real endpoint would get
   * (`<service>.<region>.amazonaws.com`), for callers that reach the fake by
   * the real endpoint names.
   */
  readonly requireEndpointHost?: boolean;
}

/** What the fake saw, and the knobs a test turns; reset() makes a new one. */
export interface FakeAwsState {
  /** The secret key signatures are checked with (a test may set a wrong one). */
  verifyWithSecret: string;
  hasRole: boolean;
  /** The role shows up in metadata from this token PUT on (a new instance profile takes a while). */
  roleFromAttempt: number;
  tokenPuts: number;
  tokenless: number;
  apiCalls: number;
  rejected: string[];
  inputs: Record<string, unknown>[];
  /** Remote addresses of the API calls that got a secret. */
  servedTo: string[];
  /** The parameter or secret served, in the order of servedTo. */
  servedNames: string[];
  /** Callers (remote addresses) whose role may read nothing: the API answers AccessDeniedException, as IAM would. */
  deniedTo: string[];
  /** "<address> <name>" of each read refused that way. */
  denied: string[];
  /** Names those callers may still read (the boot library: every node role grants it apart from the secrets). */
  readableWhenDenied: string[];
  /** PutEvents entries accepted, in order. */
  events: PutEventsEntry[];
  /** PutEvents answers AccessDeniedException while true. */
  refuseEvents: boolean;
  /** Route 53's records by zone id, then by name (lowercase, no trailing dot). */
  zones: Map<string, Map<string, FakeRecordSet>>;
  /** Every record change Route 53 accepted, in order. */
  recordChanges: FakeRecordChange[];
  /** Names the role may change (as its IAM condition would allow); undefined: any. */
  changeableNames?: string[];
}

/** An A record set of the fake Route 53. */
export interface FakeRecordSet { readonly type: string; readonly ttl: number; readonly values: string[] }
/** One accepted change: when (Date.now()), who (remote address), what. */
export interface FakeRecordChange { readonly at: number; readonly caller: string; readonly zoneId: string; readonly action: string; readonly name: string; readonly values: string[]; readonly ttl: number }

/** One entry of a PutEvents call, as sent. */
export interface PutEventsEntry {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly Time?: number;
  readonly EventBusName?: string;
}

export class FakeAws {
  readonly imdsToken = randomBytes(24).toString("base64");
  state: FakeAwsState;

  constructor(private readonly opts: FakeAwsOptions) {
    this.state = this.reset();
  }

  reset(): FakeAwsState {
    this.state = { verifyWithSecret: this.opts.creds.SecretAccessKey, hasRole: true, roleFromAttempt: 1, tokenPuts: 0, tokenless: 0, apiCalls: 0,
      rejected: [], inputs: [], servedTo: [], servedNames: [], deniedTo: [], denied: [], readableWhenDenied: [], events: [], refuseEvents: false,
      zones: new Map(), recordChanges: [] };
    return this.state;
  }

  /** An http(s) request listener; `only` restricts it to instance metadata or to the API. */
  listener(only?: "imds" | "api"): RequestListener {
    return (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c)).on("end", () => this.handle(req, res, Buffer.concat(chunks).toString("utf8"), only));
    };
  }

  handle(req: IncomingMessage, res: ServerResponse, body: string, only?: "imds" | "api") {
    const { region, role: ROLE, creds: CREDS, stored } = this.opts;
    const fake = this.state;
    const url = new URL(req.url ?? "/", "http://fake");
    const send = (status: number, data: string | object, type = "text/plain") => {
      res.writeHead(status, { "Content-Type": type }).end(typeof data === "string" ? data : JSON.stringify(data));
    };
    if (only !== "api" && url.pathname === "/latest/api/token") {
      if (req.method !== "PUT" || !req.headers["x-aws-ec2-metadata-token-ttl-seconds"]) return send(400, "Bad Request");
      fake.tokenPuts++;
      return send(200, this.imdsToken);
    }
    if (only !== "api" && url.pathname.startsWith("/latest/meta-data/")) {
      if (req.headers["x-aws-ec2-metadata-token"] !== this.imdsToken) { fake.tokenless++; return send(401, "Unauthorized"); }
      const path = url.pathname.slice("/latest/meta-data/".length);
      if (path === "placement/region") return send(200, region);
      const role = fake.hasRole && fake.tokenPuts >= fake.roleFromAttempt;
      if (role && path === "iam/security-credentials/") return send(200, ROLE);
      if (role && path === `iam/security-credentials/${ROLE}`) {
        const now = new Date();
        return send(200, JSON.stringify({ Code: "Success", LastUpdated: now.toISOString(), Type: "AWS-HMAC", ...CREDS,
          Expiration: new Date(now.getTime() + 6 * 3600e3).toISOString() }, null, 2));
      }
      return send(404, "<html><body><h1>404 - Not Found</h1></body></html>", "text/html");
    }
    const rrset = /^\/2013-04-01\/hostedzone\/([A-Z0-9]+)\/rrset$/.exec(url.pathname);
    if (only !== "imds" && rrset) return this.route53(req, res, url, body, rrset[1]);
    if (only === "imds" || url.pathname !== this.opts.apiPath || req.method !== "POST") return send(404, "Not Found");
    fake.apiCalls++;
    const error = (type: string, message: string) => { fake.rejected.push(`${type}: ${message}`); send(400, { __type: type, message }, JSON_TYPE); };
    let scope: ReturnType<typeof verifySigV4>;
    try {
      scope = verifySigV4({ method: req.method!, path: url.pathname, query: url.search.slice(1), headers: req.headersDistinct as Record<string, string[]>, body }, fake.verifyWithSecret);
    } catch (e) { return error("InvalidSignatureException", (e as Error).message); }
    const target = req.headers["x-amz-target"];
    const services: Record<string, string> = { "AmazonSSM.GetParameter": "ssm", "AmazonSSM.GetParameters": "ssm", "secretsmanager.GetSecretValue": "secretsmanager", "AWSEvents.PutEvents": "events" };
    const service = services[String(target)];
    if (!service) return error("UnknownOperationException", `unknown X-Amz-Target ${target}`);
    if (scope.region !== region || scope.service !== service) return error("InvalidSignatureException", `Credential should be scoped to ${region}/${service}`);
    if (this.opts.requireEndpointHost && req.headers.host !== `${service}.${region}.amazonaws.com`) {
      return error("UnknownOperationException", `${service} is not served at ${req.headers.host}`);
    }
    if (scope.accessKeyId !== CREDS.AccessKeyId) return error("UnrecognizedClientException", "The security token included in the request is invalid.");
    if (req.headers["x-amz-security-token"] !== CREDS.Token || !scope.signedHeaders.includes("x-amz-security-token")) return error("UnrecognizedClientException", "missing, wrong or unsigned x-amz-security-token");
    if (req.headers["content-type"] !== JSON_TYPE) return error("SerializationException", `Content-Type ${req.headers["content-type"]}`);
    const isoDate = scope.amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z");
    if (!(Math.abs(Date.now() - Date.parse(isoDate)) < 5 * 60e3)) return error("InvalidSignatureException", "Signature expired");
    let input: Record<string, unknown>;
    try { input = JSON.parse(body); } catch { return error("SerializationException", "body is not JSON"); }
    fake.inputs.push(input);
    const caller = req.socket.remoteAddress ?? "";
    if (target === "AmazonSSM.GetParameters") return this.getParameters(input, caller, send, error);
    const name = String(service === "ssm" ? input.Name : input.SecretId);
    if (fake.deniedTo.includes(caller) && !fake.readableWhenDenied.includes(name)) {
      fake.denied.push(`${caller} ${name}`);
      const action = service === "ssm" ? "ssm:GetParameter" : "secretsmanager:GetSecretValue";
      return send(400, { __type: "AccessDeniedException",
        message: `User: arn:aws:sts::123456789012:assumed-role/${ROLE}/i-0 is not authorized to perform: ${action} on resource: ${name} because no identity-based policy allows the ${action} action` }, JSON_TYPE);
    }
    if (service === "events") return this.putEvents(input, send, error);
    if (service === "ssm") {
      const value = stored.ssm.get(String(input.Name));
      if (value === undefined || input.WithDecryption !== true) return error("ParameterNotFound", "");
      fake.servedTo.push(req.socket.remoteAddress ?? "");
      fake.servedNames.push(String(input.Name));
      return send(200, { Parameter: { Name: input.Name, Type: "SecureString", Value: value, Version: 1, DataType: "text" } }, JSON_TYPE);
    }
    const secret = stored.secretsmanager.get(String(input.SecretId));
    if (secret === undefined) return error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    fake.servedTo.push(req.socket.remoteAddress ?? "");
    fake.servedNames.push(String(input.SecretId));
    return send(200, { ARN: `arn:aws:secretsmanager:${region}:123456789012:secret:${input.SecretId}-AbCdEf`, Name: input.SecretId, SecretString: secret, VersionId: "v1", VersionStages: ["AWSCURRENT"] }, JSON_TYPE);
  }

  /**
   * GetParameters as SSM answers it: 1-10 names; the ones it has in
   * Parameters (in no promised order: here reversed, so a reader that
   * relies on the order fails), the others in InvalidParameters. A caller
   * denied anything is denied the whole call, as IAM does.
   */
  private getParameters(input: Record<string, unknown>, caller: string, send: (status: number, data: object, type: string) => void, error: (type: string, message: string) => void) {
    const names = input.Names;
    if (!Array.isArray(names) || names.length < 1 || names.length > 10 || !names.every((n) => typeof n === "string")) {
      return error("ValidationException", "Names must hold 1 to 10 names");
    }
    const fake = this.state;
    const denied = names.filter((name) => fake.deniedTo.includes(caller) && !fake.readableWhenDenied.includes(name));
    if (denied.length > 0) {
      fake.denied.push(...denied.map((name) => `${caller} ${name}`));
      return send(400, { __type: "AccessDeniedException",
        message: `User: arn:aws:sts::123456789012:assumed-role/${this.opts.role}/i-0 is not authorized to perform: ssm:GetParameters on resource: ${denied[0]} because no identity-based policy allows the ssm:GetParameters action` }, JSON_TYPE);
    }
    const found = names.filter((name) => this.opts.stored.ssm.has(name));
    for (const name of found) {
      fake.servedTo.push(caller);
      fake.servedNames.push(name);
    }
    send(200, {
      Parameters: [...found].reverse().map((name) => ({ Name: name, Type: "String", Value: this.opts.stored.ssm.get(name), Version: 1, DataType: "text" })),
      InvalidParameters: names.filter((name) => !this.opts.stored.ssm.has(name)),
    }, JSON_TYPE);
  }

  /** PutEvents as EventBridge checks it: 1-10 entries, each with Source, DetailType and a JSON object as Detail. */
  private putEvents(input: Record<string, unknown>, send: (status: number, data: object, type: string) => void, error: (type: string, message: string) => void) {
    const entries = input.Entries as PutEventsEntry[] | undefined;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > 10) return error("ValidationException", "Entries must hold 1 to 10 entries");
    for (const entry of entries) {
      let detail: unknown;
      try { detail = JSON.parse(entry.Detail); } catch { detail = undefined; }
      if (typeof entry.Source !== "string" || typeof entry.DetailType !== "string" || typeof detail !== "object" || detail === null) {
        return error("ValidationException", `malformed entry ${JSON.stringify(entry)}`);
      }
    }
    if (this.state.refuseEvents) {
      return send(400, { __type: "AccessDeniedException", message: `User: arn:aws:sts::123456789012:assumed-role/${this.opts.role}/i-0 is not authorized to perform: events:PutEvents` }, JSON_TYPE);
    }
    this.state.events.push(...entries);
    send(200, { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomBytes(16).toString("hex") })) }, JSON_TYPE);
  }

  /**
   * Route 53's record API as its REST/XML endpoint answers it (signed for
   * route53 in us-east-1, the aws partition's): GET lists record sets from
   * ?name= on (?type=, ?maxitems=), POST applies a ChangeBatch all or nothing.
   */
  private route53(req: IncomingMessage, res: ServerResponse, url: URL, body: string, zoneId: string) {
    const fake = this.state;
    const { creds: CREDS } = this.opts;
    const xml = (status: number, text: string) => res.writeHead(status, { "Content-Type": "text/xml" }).end(`<?xml version="1.0"?>\n${text}`);
    const error = (status: number, code: string, message: string) => {
      fake.rejected.push(`${code}: ${message}`);
      xml(status, `<ErrorResponse xmlns="${R53_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`);
    };
    fake.apiCalls++;
    let scope: ReturnType<typeof verifySigV4>;
    try {
      scope = verifySigV4({ method: req.method ?? "", path: url.pathname, query: url.search.slice(1), headers: req.headersDistinct as Record<string, string[]>, body }, fake.verifyWithSecret);
    } catch (e) { return error(403, "SignatureDoesNotMatch", (e as Error).message); }
    if (scope.region !== "us-east-1" || scope.service !== "route53") return error(403, "SignatureDoesNotMatch", "Credential should be scoped to us-east-1/route53");
    if (scope.accessKeyId !== CREDS.AccessKeyId || req.headers["x-amz-security-token"] !== CREDS.Token || !scope.signedHeaders.includes("x-amz-security-token")) {
      return error(403, "InvalidClientTokenId", "The security token included in the request is invalid.");
    }
    const zone = fake.zones.get(zoneId);
    if (!zone) return error(404, "NoSuchHostedZone", `No hosted zone found with ID: ${zoneId}`);
    const setXml = (name: string, r: FakeRecordSet) =>
      `<ResourceRecordSet><Name>${name}.</Name><Type>${r.type}</Type><TTL>${r.ttl}</TTL><ResourceRecords>${r.values.map((v) => `<ResourceRecord><Value>${v}</Value></ResourceRecord>`).join("")}</ResourceRecords></ResourceRecordSet>`;
    if (req.method === "GET") {
      const from = (url.searchParams.get("name") ?? "").toLowerCase().replace(/\.$/, "");
      const max = Number(url.searchParams.get("maxitems") ?? 300);
      const names = [...zone.keys()].sort().filter((n) => n >= from);
      const shown = names.slice(0, max);
      return xml(200, `<ListResourceRecordSetsResponse xmlns="${R53_NS}"><ResourceRecordSets>${shown.map((n) => setXml(n, zone.get(n)!)).join("")}</ResourceRecordSets><IsTruncated>${names.length > max}</IsTruncated><MaxItems>${max}</MaxItems></ListResourceRecordSetsResponse>`);
    }
    if (req.method !== "POST") return error(405, "MethodNotAllowed", req.method ?? "");
    if (!/^(application|text)\/xml/.test(String(req.headers["content-type"]))) return error(400, "InvalidInput", `Content-Type ${req.headers["content-type"]}`);
    const text = (block: string, tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(block)?.[1];
    if (!body.includes(`<ChangeResourceRecordSetsRequest xmlns="${R53_NS}">`)) return error(400, "InvalidInput", "not a ChangeResourceRecordSetsRequest");
    const changes = [...body.matchAll(/<Change>([\s\S]*?)<\/Change>/g)].map(([, block]) => ({
      action: text(block, "Action") ?? "",
      name: (text(block, "Name") ?? "").toLowerCase().replace(/\.$/, ""),
      type: text(block, "Type") ?? "",
      ttl: Number(text(block, "TTL")),
      values: [...block.matchAll(/<Value>([^<]*)<\/Value>/g)].map((m) => m[1]),
    }));
    if (changes.length === 0) return error(400, "InvalidChangeBatch", "no changes");
    for (const c of changes) {
      if (!["CREATE", "UPSERT", "DELETE"].includes(c.action)) return error(400, "InvalidInput", `Action ${c.action}`);
      if (c.type !== "A" || c.values.length === 0 || !c.values.every((v) => /^(\d{1,3}\.){3}\d{1,3}$/.test(v)) || !Number.isInteger(c.ttl)) {
        return error(400, "InvalidChangeBatch", `[Invalid Resource Record: ${c.type} ${c.values.join(",")} TTL ${c.ttl}]`);
      }
      if (fake.changeableNames && !fake.changeableNames.includes(c.name)) {
        return error(403, "AccessDenied", `User: arn:aws:sts::123456789012:assumed-role/${this.opts.role}/i-0 is not authorized to perform: route53:ChangeResourceRecordSets on ${c.name}`);
      }
      if (c.action === "CREATE" && zone.has(c.name)) return error(400, "InvalidChangeBatch", `[Tried to create resource record set [name='${c.name}.', type='A'] but it already exists]`);
    }
    const at = Date.now();
    for (const c of changes) {
      if (c.action === "DELETE") zone.delete(c.name);
      else zone.set(c.name, { type: c.type, ttl: c.ttl, values: c.values });
      fake.recordChanges.push({ at, caller: req.socket.remoteAddress ?? "", zoneId, action: c.action, name: c.name, values: c.values, ttl: c.ttl });
    }
    xml(200, `<ChangeResourceRecordSetsResponse xmlns="${R53_NS}"><ChangeInfo><Id>/change/C${randomBytes(8).toString("hex").toUpperCase()}</Id><Status>PENDING</Status><SubmittedAt>${new Date(at).toISOString()}</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`);
  }
}
