import { PASSWORD_PLACEHOLDER, REDIS_PATHS, renderSentinelConf } from "../../lib/boot";
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

  test("authenticates to the master and its clients with the placeholder, in double quotes", () => {
    expect(sentinel("auth-pass")).toEqual(["web-cache", PASSWORD_PLACEHOLDER]);
    expect(directiveArgs(parsed, "requirepass")).toEqual([PASSWORD_PLACEHOLDER]);
    expect(text).toContain(`sentinel auth-pass web-cache "${PASSWORD_PLACEHOLDER}"\n`);
    expect(text).toContain(`requirepass "${PASSWORD_PLACEHOLDER}"\n`);
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
});
