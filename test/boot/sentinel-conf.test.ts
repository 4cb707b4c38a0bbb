import { passwordPlaceholder, REDIS_PATHS, renderSentinelConf, sha256Placeholder, TLS_PATHS } from "../../lib/boot";
import { directiveArgs, directivesNamed, parseRedisConf, sentinelConfSettings } from "../helpers";

describe("renderSentinelConf", () => {
  const text = renderSentinelConf(
    sentinelConfSettings({
      masterName: "web-cache",
      port: 26380,
      quorum: 3,
      downAfterMilliseconds: 7000,
      failoverTimeoutMilliseconds: 90000,
      parallelSyncs: 2,
    }),
  );
  const parsed = parseRedisConf(text);
  const sentinel = (sub: string) => directiveArgs(parsed, "sentinel", sub);

  test("monitors the master with the quorum", () => {
    expect(sentinel("monitor")).toEqual(["web-cache", "10.0.1.10", "6379", "3"]);
  });

  test("logs in to the data nodes as the sentinel user and to its peers as sentinel-peer, passwords quoted placeholders", () => {
    expect(sentinel("auth-user")).toEqual(["web-cache", "sentinel"]);
    expect(sentinel("auth-pass")).toEqual(["web-cache", passwordPlaceholder("sentinel")]);
    expect(sentinel("sentinel-user")).toEqual(["sentinel-peer"]);
    expect(sentinel("sentinel-pass")).toEqual([passwordPlaceholder("sentinel-peer")]);
    expect(text).toContain(`sentinel auth-pass web-cache "${passwordPlaceholder("sentinel")}"\n`);
    expect(text).toContain(`sentinel sentinel-pass "${passwordPlaceholder("sentinel-peer")}"\n`);
    expect(directivesNamed(parsed, "requirepass")).toEqual([]);
    // auth-user names a master that must be monitored first.
    expect(text.indexOf("sentinel monitor ")).toBeLessThan(text.indexOf("sentinel auth-user "));
  });

  test("its users: default off; sentinel-peer, sentinel-client, admin and node-ops with password hashes", () => {
    const users = directivesNamed(parsed, "user");
    expect(users.map((u) => u.slice(0, 3))).toEqual([
      ["default", "off", "resetkeys"],
      ["sentinel-peer", "on", `#${sha256Placeholder("sentinel-peer")}`],
      ["sentinel-client", "on", `#${sha256Placeholder("sentinel-client")}`],
      ["admin", "on", `#${sha256Placeholder("admin")}`],
      ["node-ops", "on", `#${sha256Placeholder("node-ops")}`],
    ]);
    const client = users.find((u) => u[0] === "sentinel-client")!;
    expect(client).toContain("+sentinel|get-master-addr-by-name");
    for (const denied of ["+sentinel", "+sentinel|remove", "+sentinel|monitor", "+sentinel|set", "+sentinel|failover", "+sentinel|config", "+sentinel|reset", "+publish", "+@all"]) {
      expect({ denied, granted: client.includes(denied) }).toEqual({ denied, granted: false });
    }
  });

  test("failure detection and failover timing, per master name", () => {
    expect(sentinel("down-after-milliseconds")).toEqual(["web-cache", "7000"]);
    expect(sentinel("failover-timeout")).toEqual(["web-cache", "90000"]);
    expect(sentinel("parallel-syncs")).toEqual(["web-cache", "2"]);
  });

  test("announces the node's own address and port, and binds them", () => {
    expect(sentinel("announce-ip")).toEqual(["10.0.1.11"]);
    expect(sentinel("announce-port")).toEqual(["26380"]);
    expect(directiveArgs(parsed, "bind")).toEqual(["10.0.1.11", "127.0.0.1"]);
    expect(directiveArgs(parsed, "port")).toEqual(["26380"]);
  });

  test("is locked down: protected mode, no reconfigurable scripts, no hostnames", () => {
    expect(directiveArgs(parsed, "protected-mode")).toEqual(["yes"]);
    expect(sentinel("deny-scripts-reconfig")).toEqual(["yes"]);
    expect(sentinel("resolve-hostnames")).toEqual(["no"]);
  });

  test("monitors exactly one master and runs under systemd", () => {
    expect(directivesNamed(parsed, "sentinel", "monitor")).toHaveLength(1);
    expect(directiveArgs(parsed, "supervised")).toEqual(["systemd"]);
    expect(directiveArgs(parsed, "logfile")).toEqual([REDIS_PATHS.sentinelLog]);
  });

  test("with TLS: no plaintext port, the TLS port, TLS to the data nodes and the other sentinels", () => {
    const tls = parseRedisConf(renderSentinelConf(sentinelConfSettings({ port: 26380, tls: { requireClientCertificates: true } })));
    expect(directiveArgs(tls, "port")).toEqual(["0"]);
    expect(directiveArgs(tls, "tls-port")).toEqual(["26380"]);
    expect(directiveArgs(tls, "tls-cert-file")).toEqual([TLS_PATHS.certificate]);
    expect(directiveArgs(tls, "tls-key-file")).toEqual([TLS_PATHS.key]);
    expect(directiveArgs(tls, "tls-ca-cert-file")).toEqual([TLS_PATHS.caCertificate]);
    expect(directiveArgs(tls, "tls-replication")).toEqual(["yes"]);
    expect(directiveArgs(tls, "tls-auth-clients")).toEqual(["yes"]);
    // Peers learn the TLS port from the hello messages.
    expect(directiveArgs(tls, "sentinel", "announce-port")).toEqual(["26380"]);
  });

  test("without TLS: not one tls-* directive", () => {
    expect(parsed.filter((d) => d.name.startsWith("tls-"))).toEqual([]);
  });
});
